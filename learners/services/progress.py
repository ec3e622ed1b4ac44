"""Progress: keys ticked and modules completed (by the learner, an instructor, an import,
the API or a course platform)."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from curriculum.models import Key, Module
from curriculum.rules import CurriculumRules

from ..models import (
    CompletionSource,
    KeyCompletion,
    Learner,
    ModuleProgress,
    User,
)
from .levels import Recomputed, learner_lock, recompute_locked


def _set_progress(
    *,
    learner: Learner,
    model,
    lookup: dict,
    done: bool,
    source: str,
    recorded_by: User | None,
    via: str = "",
    completed_at: datetime | None = None,
    undo: bool = False,
    curriculum: CurriculumRules | None = None,
) -> Recomputed:
    with transaction.atomic():
        locked = learner_lock(learner.pk)
        # Read the clock once the row is ours, so one learner's history is in time order.
        now = timezone.now()
        existing = model.objects.filter(learner=locked, **lookup).first()
        if (
            not done
            and existing is not None
            and existing.source == CompletionSource.PLATFORM
            and source == CompletionSource.LEARNER
        ):
            raise ValidationError(
                f"This was completed on {existing.via or 'the course platform'}; "
                "only an instructor can mark it not done."
            )
        if done and existing is None:
            model.objects.create(
                learner=locked,
                **lookup,
                completed_at=completed_at or now,
                source=source,
                recorded_by=recorded_by,
                via=via,
            )
        elif done and completed_at is not None and completed_at < existing.completed_at:
            # A completion is a fact with a time: an earlier report (out of order) wins.
            model.objects.filter(pk=existing.pk).update(completed_at=completed_at)
        elif not done and existing is not None:
            existing.delete()
        locked.last_activity_at = now
        Learner.objects.filter(pk=locked.pk).touch(last_activity_at=now)
        result = recompute_locked(locked, now=now, undo=undo, curriculum=curriculum)
    learner.level, learner.last_activity_at = locked.level, now
    return result


def key_set_done(
    *,
    learner: Learner,
    key: Key,
    done: bool,
    source: str = CompletionSource.LEARNER,
    recorded_by: User | None = None,
    via: str = "",
    completed_at: datetime | None = None,
    undo: bool = False,
    curriculum: CurriculumRules | None = None,
) -> Recomputed:
    """Tick (or untick) a key of the learner's own track. Module-linked keys follow their
    modules and cannot be ticked by hand. ``via`` names the API key or platform;
    ``completed_at`` is when it happened there (default now); ``undo``: the learner undid
    their last tick from its toast (the level change it makes leaves their history with
    the change it reverses); ``curriculum``: the rules, if the caller has read them."""
    if learner.track_id is None:
        raise ValidationError({"key": "This learner has no track yet; keys belong to a track."})
    if learner.track_id != key.track_id:
        raise ValidationError({"key": f"{key.code} is not a key of this learner's track."})
    if key.modules.exists():
        raise ValidationError({"key": f"{key.code} is done by completing its modules."})
    return _set_progress(
        learner=learner,
        model=KeyCompletion,
        lookup={"key": key},
        done=done,
        source=source,
        recorded_by=recorded_by,
        via=via,
        completed_at=completed_at,
        undo=undo,
        curriculum=curriculum,
    )


def module_set_done(
    *,
    learner: Learner,
    module: Module,
    done: bool,
    source: str = CompletionSource.LEARNER,
    recorded_by: User | None = None,
    via: str = "",
    completed_at: datetime | None = None,
    undo: bool = False,
    curriculum: CurriculumRules | None = None,
) -> Recomputed:
    """Mark a module done or not (``undo``: as for ``key_set_done``). A learner cannot
    untick what a platform completed (an instructor can): ValidationError, nothing
    changed."""
    return _set_progress(
        learner=learner,
        model=ModuleProgress,
        lookup={"module": module},
        done=done,
        source=source,
        recorded_by=recorded_by,
        via=via,
        completed_at=completed_at,
        undo=undo,
        curriculum=curriculum,
    )
