"""The report of an experiment: its counts read with SQL aggregates in a fixed number of
queries whatever its size, then read against its plan by the pure rules of ``plan``.

The unit is the learner: each learner's first decision in the experiment (a learner stays
in one group for the whole experiment; later decisions of the same learner are not
independent observations), kept as the learner's membership (``ExperimentMember``), plus
the anonymous observations erasure left. Treated means "decided and not held out",
whatever became of the email (skipped, deferred, failed): an intent-to-treat comparison of
the whole policy, so the groups stay the random split they were drawn as. Only decisions
before the experiment's end count; each outcome counts in its window after the decision.

The verdict is read on the analysis sample: the learners decided up to the moment the
planned number was reached (``plan_reached_at``), once their primary window has passed.
That sample never grows, so every later look shows the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..models import KeyCompletion, LevelChange, ModuleProgress
from . import plan, rules
from .lift import Share
from .models import ErasedObservation, Experiment, ExperimentMember, Nudge, NudgeStatus

GROUPS = (("treated", False), ("held_out", True))
# What became of the decisions (ledger rows) of each group, in the report's words.
ROW_STATES = (
    ("emailed", "emailed", Q(status=NudgeStatus.SENT)),
    (
        "deferred",
        "deferred (quiet hours or the weekly cap)",
        Q(status=NudgeStatus.PENDING) & Q(not_before__isnull=False),
    ),
    ("waiting", "waiting to be sent", Q(status=NudgeStatus.PENDING, not_before__isnull=True)),
    ("sending", "interrupted while sending", Q(status=NudgeStatus.SENDING)),
    (
        "skipped",
        "skipped (reason gone, or held out by a later experiment)",
        Q(status=NudgeStatus.SKIPPED),
    ),
    ("failed", "failed", Q(status=NudgeStatus.FAILED)),
    ("held_out", "held out (no email)", Q(status=NudgeStatus.HELD_OUT)),
)
# An ended experiment's report is final once the longest window after its end has passed.
FINAL_AFTER = max(spec.window for spec in plan.OUTCOMES)


@dataclass(frozen=True)
class OutcomeRead:
    spec: plan.OutcomeSpec
    treated: Share
    held_out: Share
    primary: bool

    @property
    def difference(self) -> float | None:
        if not self.treated.n or not self.held_out.n:
            return None
        return self.treated.value - self.held_out.value


@dataclass(frozen=True)
class GroupRead:
    name: str  # "treated" or "held_out"
    label: str
    learners: int  # decided learners, erased ones included
    erased: int
    rows: list[tuple[str, int]]  # (what became of the decisions, how many ledger rows)


@dataclass(frozen=True)
class Report:
    experiment: Experiment
    at: datetime
    state: str  # plan.WAITING / MATURING / ENDED_SHORT / READY
    planned: int
    decided: int
    plan_reached_at: datetime | None
    answer_due_at: datetime | None
    groups: list[GroupRead]
    sample_ratio: plan.SampleRatio
    erasure_ratio: plan.SampleRatio
    verdict: plan.Verdict
    outcomes: list[OutcomeRead]  # on the analysis sample; shown only with the verdict
    final: bool  # an ended experiment whose windows have all passed: it never changes
    counts: dict  # what it was read from (stored when final)

    @property
    def treated(self) -> GroupRead:
        return self.groups[0]

    @property
    def held_out(self) -> GroupRead:
        return self.groups[1]

    @property
    def progress_percent(self) -> int:
        return min(100, round(100 * self.decided / self.planned)) if self.planned else 0

    @property
    def secondary(self) -> list[OutcomeRead]:
        return [read for read in self.outcomes if not read.primary]

    @property
    def detectable_now(self) -> float | None:
        """The lift the learners decided so far could detect (progress, not a result)."""
        share = self.experiment.share
        if not 0 < share < 1 or not self.decided:
            return None
        return plan.detectable_lift(self.experiment.baseline_percent / 100, self.decided, share)


# The counts (SQL) -----------------------------------------------------------------------------


def _decisions(experiment: Experiment):
    rows = Nudge.objects.filter(experiment=experiment)
    if experiment.ended_at is not None:
        rows = rows.filter(created_at__lt=experiment.ended_at)
    return rows


def experiment_members(experiment: Experiment, *, until: datetime | None = None):
    """The experiment's learners (each with the group and time of the first decision), as
    its report counts them: decided before its end, and by ``until`` if given."""
    members = ExperimentMember.objects.filter(experiment=experiment)
    if experiment.ended_at is not None:
        members = members.filter(decided_at__lt=experiment.ended_at)
    if until is not None:
        members = members.filter(decided_at__lte=until)
    return members


def _first_after(model, field: str, decided: str, **conditions) -> Subquery:
    """When the learner first did it after ``decided`` (a subquery per row)."""
    return Subquery(
        model.objects.filter(
            learner_id=OuterRef("learner_id"),
            **{f"{field}__gt": OuterRef(decided)},
            **conditions,
        )
        .order_by(field)
        .values(field)[:1]
    )


# The first time of each kind of event after a decision; an outcome is reached when one of
# its events falls within its window. A placement (no level before) is never a level-up.
EVENTS = {
    "module_at": lambda decided: _first_after(ModuleProgress, "completed_at", decided),
    "key_at": lambda decided: _first_after(KeyCompletion, "completed_at", decided),
    "level_up_at": lambda decided: _first_after(
        LevelChange, "changed_at", decided, to_level__gt=F("from_level")
    ),
}


def _with_events(rows, decided: str):
    return rows.annotate(**{name: event(decided) for name, event in EVENTS.items()})


def _events(spec: plan.OutcomeSpec) -> tuple[str, ...]:
    return ("module_at", "key_at") if spec.name.startswith("progress_") else ("level_up_at",)


def _reached(spec: plan.OutcomeSpec, decided: str = "created_at") -> Q:
    """Whether a decision's learner reached the outcome within its window."""
    reached = Q()
    for event in _events(spec):
        reached |= Q(**{f"{event}__lte": F(decided) + spec.window})
    return reached


def _erased_reached(spec: plan.OutcomeSpec) -> Q:
    field = "progress_at" if spec.name.startswith("progress_") else "level_up_at"
    return Q(**{f"{field}__lte": F("decided_at") + spec.window})


def _plan_reached_at(experiment: Experiment) -> datetime | None:
    """The decision time of the planned-th learner (erased ones included): one query, run
    once the planned number is decided; then kept in the cache, as it never changes."""
    started = int(experiment.started_at.timestamp())
    key = f"nudges:experiment:{experiment.pk}:{started}:plan-reached:v1"
    found = cache.get(key)
    if found is not None:
        return found
    live = experiment_members(experiment).values_list("decided_at", flat=True).order_by()
    times = live.union(_erased(experiment).values_list("decided_at", flat=True), all=True).order_by(
        "decided_at"
    )
    planned = experiment.planned_learners
    found = next(iter(times[planned - 1 : planned]), None)
    if found is not None:
        cache.set(key, found, timeout=None)
    return found


def _erased(experiment: Experiment):
    erased = ErasedObservation.objects.filter(experiment=experiment)
    if experiment.ended_at is not None:
        erased = erased.filter(decided_at__lt=experiment.ended_at)
    return erased


def _outcome_aggregates(
    held: Q, reached, time_field: str, sample_end: datetime, now: datetime
) -> dict:
    """Per group, on the analysis sample: each outcome's mature learners and hits."""
    aggregates = {}
    for group, is_held in GROUPS:
        in_sample = (held if is_held else ~held) & Q(**{f"{time_field}__lte": sample_end})
        for spec in plan.OUTCOMES:
            mature = in_sample & Q(**{f"{time_field}__lte": now - spec.window})
            aggregates[f"{group}_{spec.name}_n"] = Count("pk", filter=mature)
            aggregates[f"{group}_{spec.name}_hits"] = Count("pk", filter=mature & reached(spec))
    return aggregates


def _row_states(experiment: Experiment) -> dict:
    """How many of the experiment's ledger rows each group has in each state: one pass over
    an index holding every column it reads (grouped, not one filtered count per state)."""
    held = Q(status=NudgeStatus.HELD_OUT)
    grouped = (
        _decisions(experiment)
        .order_by()
        .values(
            held=ExpressionWrapper(held, output_field=BooleanField()),
            state=Case(*(When(condition, then=Value(name)) for name, _, condition in ROW_STATES)),
        )
        .annotate(n=Count("*"))
    )
    found = {(row["held"], row["state"]): row["n"] for row in grouped}
    return {
        f"{group}_{name}": found.get((is_held, name), 0)
        for group, is_held in GROUPS
        for name, _label, _condition in ROW_STATES
    }


def _group_sizes(held: Q) -> dict:
    return {
        f"{group}_n": Count("pk", filter=held if is_held else ~held) for group, is_held in GROUPS
    }


def experiment_counts(*, experiment: Experiment, now: datetime) -> dict:
    """Everything the report reads, in at most six queries whatever the experiment's size:
    the learners of each group (its members), the decisions of each group (ledger rows),
    the erased learners' observations; once the planned number is decided, the moment it
    was reached (once, then cached), the erased learners' outcomes and the outcomes of the
    analysis sample (the only query that looks at progress, and only at the planned
    learners; on PostgreSQL inside a transaction that turns JIT off)."""
    held = Q(held_out=True)
    live = experiment_members(experiment).aggregate(**_group_sizes(held))
    rows = _row_states(experiment)
    erased_rows = _erased(experiment)
    erased = erased_rows.aggregate(**_group_sizes(held))
    decided = sum(live.values()) + sum(erased.values())
    planned = experiment.planned_learners
    reached_at = _plan_reached_at(experiment) if 0 < planned <= decided else None
    if reached_at is not None:
        aggregates = _outcome_aggregates(
            held, lambda spec: _reached(spec, "decided_at"), "decided_at", reached_at, now
        )
        erased |= erased_rows.aggregate(
            **_outcome_aggregates(held, _erased_reached, "decided_at", reached_at, now)
        )
        # The events are subqueries per learner of the sample (the planned learners), never
        # per learner of the whole experiment.
        sample = _with_events(experiment_members(experiment, until=reached_at), "decided_at")
        if connection.vendor == "postgresql":
            # Its subqueries make PostgreSQL's cost estimate large, and JIT compiling it
            # took longer than running it (measured at 100k learners: 4.8 s of JIT for a
            # 0.25 s query). SET LOCAL: until the end of the enclosing transaction.
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
                live |= sample.aggregate(**aggregates)
        else:
            live |= sample.aggregate(**aggregates)
    return {
        "plan_reached_at": reached_at.isoformat() if reached_at else None,
        "live": live,
        "erased": erased,
        "rows": rows,
    }


# The reading (pure) ---------------------------------------------------------------------------


def report_read(*, experiment: Experiment, counts: dict, now: datetime) -> Report:
    """The report from its counts at ``now``: what ``experiment_report`` shows, and what a
    final report is rebuilt from."""
    live, erased, rows = counts["live"], counts["erased"], counts["rows"]
    reached_at = counts["plan_reached_at"]
    reached_at = parse_datetime(reached_at) if reached_at else None
    groups = []
    for group, is_held in GROUPS:
        groups.append(
            GroupRead(
                name=group,
                label="held out" if is_held else "treated",
                learners=live[f"{group}_n"] + erased[f"{group}_n"],
                erased=erased[f"{group}_n"],
                rows=[(label, rows[f"{group}_{name}"]) for name, label, _ in ROW_STATES],
            )
        )
    treated, held = groups
    decided = treated.learners + held.learners
    primary = experiment.primary
    state = plan.plan_state(
        decided=decided,
        planned=experiment.planned_learners,
        plan_reached_at=reached_at,
        window=primary.window,
        now=now,
        ended=experiment.ended_at is not None,
    )
    if experiment.planned_learners <= 0:
        state = plan.ENDED_SHORT if experiment.ended_at else plan.WAITING
    outcomes = []
    if reached_at is not None:
        for spec in plan.OUTCOMES:
            shares = [
                Share(
                    live[f"{g}_{spec.name}_hits"] + erased[f"{g}_{spec.name}_hits"],
                    live[f"{g}_{spec.name}_n"] + erased[f"{g}_{spec.name}_n"],
                )
                for g, _ in GROUPS
            ]
            outcomes.append(OutcomeRead(spec, *shares, primary=spec.name == primary.name))
    primary_read = next((read for read in outcomes if read.primary), None)
    verdict = (
        plan.verdict(state, primary_read.treated, primary_read.held_out)
        if primary_read is not None
        else plan.Verdict(state)
    )
    ended = experiment.ended_at
    return Report(
        experiment=experiment,
        at=now,
        state=verdict.state,
        planned=experiment.planned_learners,
        decided=decided,
        plan_reached_at=reached_at,
        answer_due_at=reached_at + primary.window if reached_at else None,
        groups=groups,
        sample_ratio=plan.sample_ratio(treated.learners, held.learners, experiment.share),
        erasure_ratio=plan.sample_ratio(treated.erased, held.erased, experiment.share),
        verdict=verdict,
        outcomes=outcomes if verdict.shown else [],
        final=ended is not None and now >= ended + FINAL_AFTER,
        counts=counts,
    )


def experiment_report(*, experiment: Experiment, now: datetime | None = None) -> Report:
    """The report at ``now``; a final report stored on the experiment is shown as stored."""
    if experiment.final_report:
        stored = experiment.final_report
        return report_read(
            experiment=experiment, counts=stored["counts"], now=parse_datetime(stored["at"])
        )
    now = now or timezone.now()
    return report_read(
        experiment=experiment, counts=experiment_counts(experiment=experiment, now=now), now=now
    )


BASELINE_DAYS = 120
# The baseline is read on the latest decisions of each kind, at most this many: a rate within
# about 1 point (one standard error at 30 %), and a query that stays small at any size.
BASELINE_SAMPLE = 2000


def ledger_baselines(*, now: datetime | None = None) -> dict[tuple[str, str], Share]:
    """(kind, outcome) -> how many of the kind's latest decisions (at most 2,000, of the
    last 120 days, every window passed; an instructor's "send now" aside) reached the
    outcome: the baseline an experiment is planned from. One query per kind."""
    now = now or timezone.now()
    mature = now - FINAL_AFTER
    baselines = {}
    for kind in rules.EXPERIMENT_KINDS:
        latest = (
            Nudge.objects.filter(
                kind=kind,
                created_at__gte=now - timedelta(days=BASELINE_DAYS),
                created_at__lte=mature,
            )
            .exclude(dedup_key__startswith=rules.MANUAL_PREFIX)
            .order_by("-created_at")[:BASELINE_SAMPLE]
        )
        aggregates = {"n": Count("pk")}
        for spec in plan.OUTCOMES:
            aggregates[spec.name] = Count("pk", filter=_reached(spec))
        row = _with_events(latest, "created_at").aggregate(**aggregates)
        for spec in plan.OUTCOMES:
            baselines[(kind, spec.name)] = Share(row[spec.name], row["n"])
    return baselines
