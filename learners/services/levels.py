"""Levels: the placement rule's result written to learners, one or a chunk at a time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, PositiveSmallIntegerField, Value, When
from django.utils import timezone

from curriculum.selectors import curriculum_rules

from .. import assessment
from ..models import (
    Learner,
    LevelChange,
)
from ..nudges.api import nudge_level_up, nudge_placement, nudges_level_up_many
from ..placement import CurriculumRules, Placement, Profile, place
from ..selectors import learner_profile, learner_progress, progress_by_learner


def learners_touch(*, learner_ids: Iterable[int]) -> None:
    """Mark what the learners' pages show as changed (their cached progress page is stale)."""
    Learner.objects.filter(pk__in=list(learner_ids)).touch()


@dataclass(frozen=True)
class Recomputed:
    placement: Placement
    change: LevelChange | None
    # The learner as recomputed (their row read under the lock, with its track, and the new
    # level set), so a caller can draw their page without reading it again. Its ``version``
    # is the one before this write.
    learner: Learner

    @property
    def went_up(self) -> bool:
        return self.change is not None and self.change.went_up

    @property
    def placed(self) -> bool:
        """This recompute was the learner's first placement (where they start)."""
        return self.change is not None and self.change.is_placement


def learner_lock(learner_id: int) -> Learner:
    """The learner's row, locked until the caller's transaction ends (one writer at a time
    per learner, so their level history stays in order)."""
    return (
        Learner.objects.select_for_update(of=("self",)).select_related("track").get(pk=learner_id)
    )


def learner_recompute_level(
    *, learner: Learner, curriculum: CurriculumRules | None = None
) -> Recomputed:
    with transaction.atomic():
        locked = learner_lock(learner.pk)
        result = recompute_locked(locked, curriculum=curriculum)
    learner.level = locked.level
    learner.level_changed_at = locked.level_changed_at
    learner.placed_at = locked.placed_at
    return result


def recompute_locked(
    learner: Learner,
    *,
    curriculum: CurriculumRules | None = None,
    now=None,
    undo: bool = False,
    tell_placement: bool = False,
) -> Recomputed:
    """Recompute a learner whose row the caller holds locked in a transaction.

    A move up queues its level_up nudge; a first placement queues none, and with
    ``tell_placement`` (the learner's own self-assessment) its "where you start" email.
    ``undo``: the change comes from the Undo of a tick's toast.
    """
    placement = place(
        curriculum or curriculum_rules(), learner_profile(learner), learner_progress(learner)
    )
    changed, change = _apply_placement(learner, placement, now=now, undo=undo)
    if changed:
        Learner.objects.filter(pk=learner.pk).touch(
            level=learner.level,
            level_changed_at=learner.level_changed_at,
            placed_at=learner.placed_at,
        )
    if change is not None:
        change.save()
        if change.went_up:
            nudge_level_up(learner=learner, change=change)
        elif change.is_placement and tell_placement:
            nudge_placement(learner=learner)
    return Recomputed(placement=placement, change=change, learner=learner)


def _apply_placement(
    learner: Learner, placement: Placement, *, now=None, undo: bool = False
) -> tuple[bool, LevelChange | None]:
    """Set the new level on ``learner`` (unsaved); return whether the row changed and the
    history row, if any.

    The first recompute with a self-assessment is the learner's placement: a history row
    (from no level) even when the level stays what it was, never a move. Before it, the
    level follows progress without a history row (there is no placement to move from).
    """
    first = learner.placed_at is None and learner.assessment_submitted_at is not None
    if placement.level == learner.level and not first:
        return False, None
    now = now or timezone.now()
    before = learner.level
    learner.level = placement.level
    learner.level_changed_at = now
    if learner.assessment_submitted_at is None:
        return True, None
    if first:
        learner.placed_at = now
    return True, LevelChange(
        learner=learner,
        from_level=None if first else before,
        to_level=placement.level,
        changed_at=now,
        reasons=list(placement.reasons),
        undo=undo and not first,
    )


@dataclass
class RecomputeReport:
    learners: int = 0
    changed: int = 0
    chunks: int = 0


def learners_recompute(
    *, learner_ids: Iterable[int] | None = None, chunk_size: int | None = None
) -> RecomputeReport:
    """Recompute many learners (all when ``learner_ids`` is None), a chunk at a time.

    A chunk costs a fixed number of queries (learners, their modules, their keys, at most
    one UPDATE per level reached and one bulk insert of history), whatever its learners'
    progress. Only learners whose level changed are written.
    """
    chunk_size = chunk_size or settings.LEARNER_CHUNK_SIZE
    curriculum = curriculum_rules(fresh=True)
    report = RecomputeReport()
    learners = learners_to_recompute()
    ids = sorted(set(learner_ids)) if learner_ids is not None else None
    last_pk = 0
    while True:
        with transaction.atomic():
            if ids is None:
                chunk = list(learners.filter(pk__gt=last_pk)[:chunk_size])
            else:
                start = report.chunks * chunk_size
                chunk = list(learners.filter(pk__in=ids[start : start + chunk_size]))
            if not chunk:
                break
            last_pk = chunk[-1].pk
            report.chunks += 1
            report.learners += len(chunk)
            report.changed += recompute_locked_many(chunk, curriculum=curriculum)
        if ids is not None and report.chunks * chunk_size >= len(ids):
            break
    return report


def learners_to_recompute():
    """Learners to lock (``select_for_update``, in id order: no two writers deadlock) with
    what a recompute reads of them."""
    columns = (
        "pk",
        "level",
        "level_changed_at",
        "placed_at",
        "assessment_submitted_at",
        "track__slug",
    )
    return (
        Learner.objects.order_by("pk")
        .select_for_update(of=("self",))
        .select_related("track")
        .only(*columns, *assessment.FIELDS)
    )


def recompute_locked_many(
    learners: list[Learner], *, curriculum: CurriculumRules | None = None
) -> int:
    """Recompute learners whose rows the caller holds locked (``learners_to_recompute``) in
    a transaction, in a fixed number of queries; returns how many changed level."""
    changed, history = _recompute_chunk(learners, curriculum or curriculum_rules())
    _write_levels(changed)
    LevelChange.objects.bulk_create(history)
    nudges_level_up_many(changes=history)
    return len(changed)


def _write_levels(changed: list[Learner]) -> None:
    """One UPDATE for the whole chunk: a CASE over the (at most four) levels reached, cheaper
    than Django's per-row CASE of bulk_update."""
    if not changed:
        return
    by_level: dict[int, list[int]] = defaultdict(list)
    for learner in changed:
        by_level[learner.level].append(learner.pk)
    now = changed[0].level_changed_at
    placed = [learner.pk for learner in changed if learner.placed_at == now]
    also = (
        {"placed_at": Case(When(pk__in=placed, then=Value(now)), default=F("placed_at"))}
        if placed
        else {}
    )
    Learner.objects.filter(pk__in=[learner.pk for learner in changed]).touch(
        level=Case(
            *(When(pk__in=pks, then=Value(level)) for level, pks in by_level.items()),
            output_field=PositiveSmallIntegerField(),
        ),
        level_changed_at=now,
        **also,
    )


def _recompute_chunk(
    chunk: list[Learner], curriculum: CurriculumRules
) -> tuple[list[Learner], list[LevelChange]]:
    progress = progress_by_learner([learner.pk for learner in chunk])
    now = timezone.now()
    changed, history = [], []
    for learner in chunk:
        profile: Profile = learner_profile(learner, learner.track.slug if learner.track else None)
        was_changed, change = _apply_placement(
            learner, place(curriculum, profile, progress[learner.pk]), now=now
        )
        if was_changed:
            changed.append(learner)
        if change is not None:
            history.append(change)
    return changed, history
