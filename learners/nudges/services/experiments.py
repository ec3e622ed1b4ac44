"""Hold-out experiments: which one runs for a kind, who is held out, a new share (a new,
planned experiment), the re-decision of rows decided outside the running experiment, and
the anonymous observations an erasure leaves."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.dateparse import parse_datetime

from ...models import KeyCompletion, Learner, LevelChange, ModuleProgress
from .. import plan, rules
from ..models import ErasedObservation, Experiment, ExperimentMember, Nudge, NudgeStatus
from ..report import Report, experiment_report, report_read
from ..rules import Decision

HOLDOUT_KEY_SALT = "learners.nudges.holdout"


def holdout_key(kind: str) -> bytes:
    """The hold-out hash's key for one kind, derived from SECRET_KEY (read at call time):
    every experiment of a kind shares it, so the groups are nested across shares. (Rotating
    SECRET_KEY re-draws the groups: end the running experiments first.)"""
    return salted_hmac(HOLDOUT_KEY_SALT, f"holdout-key:{kind}").digest()


def experiments_running(*, now: datetime) -> dict[str, Experiment]:
    """kind -> the experiment running at ``now``. One query."""
    return {
        experiment.kind: experiment
        for experiment in Experiment.objects.filter(started_at__lte=now, ended_at__isnull=True)
    }


def experiment_assign(
    running: dict[str, Experiment], decision: Decision
) -> tuple[Experiment | None, bool]:
    """The experiment a decision belongs to (none for a kind that cannot have one or an
    instructor's "send now") and whether the learner is held out of it."""
    experiment = running.get(decision.kind)
    if experiment is None or not rules.in_experiment(decision.kind, decision.dedup_key):
        return None, False
    return experiment, rules.held_out(
        key=holdout_key(decision.kind),
        learner_id=decision.learner_id,
        percent=experiment.holdout_percent,
    )


def experiment_members_add(*, rows: Iterable[Nudge]) -> None:
    """Called with ledger rows just created: each row's learner joins the row's experiment,
    in the row's group, as of the row's decision, unless already in it (the learner's first
    decision in an experiment is the one kept: decisions are written in time order). One
    query, none without experiment rows."""
    members = [
        ExperimentMember(
            experiment_id=row.experiment_id,
            learner_id=row.learner_id,
            held_out=row.status == NudgeStatus.HELD_OUT,
            decided_at=row.created_at,
        )
        for row in rows
        if row.experiment_id is not None
    ]
    if members:
        ExperimentMember.objects.bulk_create(members, ignore_conflicts=True)


def experiments_held_out_now(*, rows: Iterable[Nudge], now: datetime) -> set[int]:
    """Of rows about to be sent, those decided outside the running experiment of their
    kind (under an ended one, or none) whose learner is held out of it now: a held-out
    learner never gets an email of that kind. Their own experiment keeps them as decided
    (treated) rows. At most one query."""
    candidates = [
        row
        for row in rows
        if rules.in_experiment(row.kind, row.dedup_key) and row.status == NudgeStatus.PENDING
    ]
    if not candidates:
        return set()
    running = experiments_running(now=now)
    held = set()
    for row in candidates:
        experiment = running.get(row.kind)
        if experiment is None or row.experiment_id == experiment.pk:
            continue
        if rules.held_out(
            key=holdout_key(row.kind), learner_id=row.learner_id, percent=experiment.holdout_percent
        ):
            held.add(row.pk)
    return held


def experiment_plan(
    *, baseline_percent: float, min_lift_points: float, holdout_percent: int
) -> int:
    """The planned learners of an experiment (0 when nobody or everybody is held out)."""
    share = holdout_percent / 100
    if not 0 < share < 1:
        return 0
    return plan.planned_learners(baseline_percent / 100, min_lift_points / 100, share)


@transaction.atomic
def experiment_set_share(
    *,
    kind: str,
    percent: int,
    primary_outcome: str | None = None,
    baseline_percent: float | None = None,
    min_lift_points: float | None = None,
    now: datetime | None = None,
) -> Experiment | None:
    """A new hold-out share (and plan) for ``kind``: the running experiment ends now and a
    new one starts (results never mix); 0 ends it without a new one. The plan's fields
    default to the running experiment's, else to the defaults. Returns the new experiment
    (the running one, unchanged, when nothing changes)."""
    if not 0 <= percent <= 100:
        raise ValueError("The hold-out share is a percentage from 0 to 100.")
    if kind not in rules.EXPERIMENT_KINDS:
        if percent == 0:
            return None
        raise ValueError(f"{kind} emails are transactional: they cannot be held out.")
    now = now or timezone.now()
    running = Experiment.objects.select_for_update().filter(kind=kind, ended_at__isnull=True)
    current = running.first()
    base = current or Experiment(kind=kind)
    experiment = Experiment(
        kind=kind,
        holdout_percent=percent,
        primary_outcome=primary_outcome or base.primary_outcome,
        baseline_percent=base.baseline_percent if baseline_percent is None else baseline_percent,
        min_lift_points=base.min_lift_points if min_lift_points is None else min_lift_points,
        started_at=now,
    )
    if current is not None and all(
        getattr(current, name) == getattr(experiment, name)
        for name in ("holdout_percent", "primary_outcome", "baseline_percent", "min_lift_points")
    ):
        return current
    # Checked before the running one ends: a bad plan changes nothing.
    experiment.full_clean(exclude=["planned_learners", "ended_at"], validate_unique=False)
    experiment.planned_learners = experiment_plan(
        baseline_percent=experiment.baseline_percent,
        min_lift_points=experiment.min_lift_points,
        holdout_percent=percent,
    )
    running.update(ended_at=now)
    if percent == 0:
        return None
    experiment.save()
    return experiment


def experiment_end(*, experiment: Experiment, now: datetime | None = None) -> None:
    Experiment.objects.filter(pk=experiment.pk, ended_at__isnull=True).update(
        ended_at=now or timezone.now()
    )


# Erasure --------------------------------------------------------------------------------------


def experiment_observations_keep(*, learner: Learner, now: datetime | None = None) -> int:
    """Called by erasure before a learner's rows are deleted: the learner's membership of
    each experiment (group, first decision) becomes an anonymous observation, with what
    became of that decision's email and the first progress and level-up after it, so the
    groups keep their size. A fixed number of queries. Returns how many."""
    now = now or timezone.now()
    members = list(ExperimentMember.objects.filter(learner=learner))
    if not members:
        return 0
    earliest = min(member.decided_at for member in members)
    # What became of each first decision (the earliest row; "" if the ledger lost it).
    statuses: dict[int, str] = {}
    for experiment_id, status in (
        Nudge.objects.filter(learner=learner, experiment__isnull=False, created_at__gte=earliest)
        .order_by("created_at", "pk")
        .values_list("experiment_id", "status")
    ):
        statuses.setdefault(experiment_id, status)
    progress = sorted(
        [
            *ModuleProgress.objects.filter(learner=learner, completed_at__gt=earliest).values_list(
                "completed_at", flat=True
            ),
            *KeyCompletion.objects.filter(learner=learner, completed_at__gt=earliest).values_list(
                "completed_at", flat=True
            ),
        ]
    )
    # A placement (no level before) is never a level-up, as in the report.
    ups = sorted(
        LevelChange.objects.filter(
            learner=learner, changed_at__gt=earliest, to_level__gt=F("from_level")
        ).values_list("changed_at", flat=True)
    )

    def first_after(times: list[datetime], moment: datetime) -> datetime | None:
        return next((t for t in times if t > moment), None)

    observations = [
        ErasedObservation(
            experiment_id=member.experiment_id,
            held_out=member.held_out,
            decided_at=member.decided_at,
            status=statuses.get(member.experiment_id, ""),
            progress_at=first_after(progress, member.decided_at),
            level_up_at=first_after(ups, member.decided_at),
            erased_at=now,
        )
        for member in members
    ]
    ErasedObservation.objects.bulk_create(observations)
    return len(observations)


# The report ------------------------------------------------------------------------------------


# A running experiment's report is read again at most this often (its numbers move daily).
RUNNING_REPORT_SECONDS = 300


def experiment_report_keep(*, experiment: Experiment, now: datetime | None = None) -> Report:
    """The experiment's report as the admin shows it: once final (ended, every window
    passed) it is stored on the experiment and shown as stored from then on, whatever later
    happens to the ledger; before that its counts are kept in the cache for five minutes
    (the report then reads as of when they were counted)."""
    if experiment.final_report:
        return experiment_report(experiment=experiment)
    started = int(experiment.started_at.timestamp())
    ended = int(experiment.ended_at.timestamp()) if experiment.ended_at else "running"
    key = f"nudges:experiment-report:v1:{experiment.pk}:{started}:{ended}"
    # A report as of a given moment (``now``) is read afresh.
    kept = cache.get(key) if now is None else None
    if kept is not None:
        return report_read(
            experiment=experiment, counts=kept["counts"], now=parse_datetime(kept["at"])
        )
    report = experiment_report(experiment=experiment, now=now)
    snapshot = {"at": report.at.isoformat(), "counts": report.counts}
    if report.final:
        Experiment.objects.filter(pk=experiment.pk, final_report__isnull=True).update(
            final_report=snapshot
        )
        experiment.final_report = snapshot
    elif now is None:
        cache.set(key, snapshot, timeout=RUNNING_REPORT_SECONDS)
    return report
