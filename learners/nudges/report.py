"""The lift report of an experiment, read with SQL aggregates: one query whatever its size.

The unit is the learner: each learner's first decision in the experiment (a learner stays in
one group for the whole experiment, and later decisions of the same learner are not
independent observations). Treated means "decided and not held out", whatever became of the
email (skipped, deferred, failed): an intent-to-treat comparison, so that the groups stay
the random split they were drawn as. Each outcome counts only decisions old enough for its
window (a 14-day outcome ignores decisions of the last 14 days).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
)
from django.utils import timezone

from ..models import KeyCompletion, LevelChange, ModuleProgress
from .lift import MIN_GROUP_SIZE, Lift, Share, lift
from .models import Experiment, Nudge, NudgeStatus

# (name, label, days): the outcomes the report compares.
OUTCOMES = (
    ("progress_7", "Any progress within 7 days", 7),
    ("progress_14", "Any progress within 14 days", 14),
    ("level_up_30", "Went up a level within 30 days", 30),
)


@dataclass(frozen=True)
class Outcome:
    name: str
    label: str
    days: int
    lift: Lift


@dataclass(frozen=True)
class LiftReport:
    experiment: Experiment
    at: datetime
    treated: int  # learners decided and not held out
    held_out: int
    outcomes: list[Outcome]
    min_group_size: int = MIN_GROUP_SIZE


def _within(days: int) -> ExpressionWrapper:
    return ExpressionWrapper(
        OuterRef("created_at") + timedelta(days=days), output_field=DateTimeField()
    )


def _progress_within(days: int):
    window = {
        "learner_id": OuterRef("learner_id"),
        "completed_at__gt": OuterRef("created_at"),
        "completed_at__lte": _within(days),
    }
    return Exists(ModuleProgress.objects.filter(**window)) | Exists(
        KeyCompletion.objects.filter(**window)
    )


def _level_up_within(days: int):
    return Exists(
        LevelChange.objects.filter(
            learner_id=OuterRef("learner_id"),
            changed_at__gt=OuterRef("created_at"),
            changed_at__lte=_within(days),
            to_level__gt=F("from_level"),
        )
    )


def experiment_decisions(experiment: Experiment):
    """Each learner's first decision in the experiment."""
    first = (
        Nudge.objects.filter(experiment=experiment, learner_id=OuterRef("learner_id"))
        .order_by("created_at", "pk")
        .values("pk")[:1]
    )
    return Nudge.objects.filter(experiment=experiment, pk=Subquery(first))


def experiment_lift(*, experiment: Experiment, now: datetime | None = None) -> LiftReport:
    now = now or timezone.now()
    held = Q(status=NudgeStatus.HELD_OUT)
    aggregates = {}
    for group, condition in (("t", ~held), ("h", held)):
        aggregates[f"{group}_n"] = Count("pk", filter=condition)
        for name, _label, days in OUTCOMES:
            mature = condition & Q(created_at__lte=now - timedelta(days=days))
            aggregates[f"{group}_{name}_n"] = Count("pk", filter=mature)
            aggregates[f"{group}_{name}_hits"] = Count("pk", filter=mature & Q(**{name: True}))
    row = (
        experiment_decisions(experiment)
        .annotate(
            progress_7=_progress_within(7),
            progress_14=_progress_within(14),
            level_up_30=_level_up_within(30),
        )
        .aggregate(**aggregates)
    )
    outcomes = [
        Outcome(
            name,
            label,
            days,
            lift(
                Share(row[f"t_{name}_hits"], row[f"t_{name}_n"]),
                Share(row[f"h_{name}_hits"], row[f"h_{name}_n"]),
            ),
        )
        for name, label, days in OUTCOMES
    ]
    return LiftReport(experiment, now, row["t_n"], row["h_n"], outcomes)
