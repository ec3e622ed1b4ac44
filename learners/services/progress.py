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
        item = model.objects.filter(learner=locked, **lookup)
        if done and completed_at is None:
            # One statement: a completion already there stays as it is (its time is earlier).
            model.objects.bulk_create(
                [
                    model(
                        learner=locked,
                        **lookup,
                        completed_at=now,
                        source=source,
                        recorded_by=recorded_by,
                        via=via,
                    )
                ],
                ignore_conflicts=True,
            )
        elif done:
            existing = item.first()
            if existing is None:
                model.objects.create(
                    learner=locked,
                    **lookup,
                    completed_at=completed_at,
                    source=source,
                    recorded_by=recorded_by,
                    via=via,
                )
            elif completed_at < existing.completed_at:
                # A completion is a fact with a time: an earlier report (out of order) wins.
                item.filter(pk=existing.pk).update(completed_at=completed_at)
        else:
            # A learner cannot untick what a platform completed (an instructor can): their
            # DELETE spares it, and only when it deleted nothing is the row read, to say why.
            spares_platform = source == CompletionSource.LEARNER
            undone = item.exclude(source=CompletionSource.PLATFORM) if spares_platform else item
            deleted, _ = undone.delete()
            spared_via = (
                item.values_list("via", flat=True).first()
                if spares_platform and not deleted
                else None
            )
            if spared_via is not None:
                raise ValidationError(
                    f"This was completed on {spared_via or 'the course platform'}; "
                    "only an instructor can mark it not done."
                )
        locked.last_activity_at = now
        Learner.objects.filter(pk=locked.pk).touch(last_activity_at=now)
        result = recompute_locked(locked, now=now, undo=undo, curriculum=curriculum)
    learner.level, learner.last_activity_at = locked.level, now
    return result


def _module_linked(key: Key, curriculum: CurriculumRules | None) -> bool:
    """Whether modules do ``key`` (it cannot be ticked by hand). The caller's rules say so
    without a query: they are the rules this write places the learner with (the placement
    counts a module-linked key by its modules, whatever was ticked) and the page that offered
    the tick was drawn from; every write to the curriculum drops their cache
    (``curriculum.models``, ``curriculum.apps``). A key they do not know is asked of the
    database."""
    rule = curriculum.key_rule(key.pk) if curriculum is not None else None
    return rule.module_linked if rule is not None else key.modules.exists()


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
    if _module_linked(key, curriculum):
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
