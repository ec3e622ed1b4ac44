"""The experiments' membership (``ExperimentMember``, one row per learner per experiment,
written with the learner's first decision in it) against the ledger it summarises: on a
random history (decisions in time order through the ledger service, shares changed midway,
duplicates of earlier decisions, instructors' "send now", emails sent, deferred, skipped or
failed, progress and level changes, erasures), the report's counts equal a reference
computed in Python straight from the ledger rows; erasure leaves observations equal to what
the ledger said of the erased learners; the migration's backfill rebuilds the same rows."""

from __future__ import annotations

import importlib
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.core.cache import cache

from curriculum.models import Key, Module
from learners.models import KeyCompletion, LevelChange, ModuleProgress
from learners.nudges import plan, rules
from learners.nudges.models import (
    ErasedObservation,
    Experiment,
    ExperimentMember,
    Nudge,
    NudgeStatus,
)
from learners.nudges.report import ROW_STATES, experiment_counts
from learners.nudges.rules import Decision
from learners.nudges.services.experiments import experiment_set_share
from learners.nudges.services.ledger import nudges_add
from learners.privacy.services import account_erase

from .conftest import bulk_learners

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KINDS = rules.EXPERIMENT_KINDS


# The reference: the ledger read in Python --------------------------------------------------------


def _row_state(row: Nudge) -> str:
    if row.status == NudgeStatus.PENDING:
        return "deferred" if row.not_before is not None else "waiting"
    return {
        NudgeStatus.SENT: "emailed",
        NudgeStatus.SENDING: "sending",
        NudgeStatus.SKIPPED: "skipped",
        NudgeStatus.FAILED: "failed",
        NudgeStatus.HELD_OUT: "held_out",
    }[row.status]


def _events(learner_ids) -> dict[int, dict[str, list[datetime]]]:
    events = {pk: {"progress": [], "level_up": []} for pk in learner_ids}
    for model in (ModuleProgress, KeyCompletion):
        for pk, at in model.objects.filter(learner_id__in=events).values_list(
            "learner_id", "completed_at"
        ):
            events[pk]["progress"].append(at)
    for pk, before, after, at in LevelChange.objects.filter(learner_id__in=events).values_list(
        "learner_id", "from_level", "to_level", "changed_at"
    ):
        if before is not None and after > before:
            events[pk]["level_up"].append(at)
    return events


def _first_after(times: list[datetime], moment: datetime) -> datetime | None:
    return min((t for t in times if t > moment), default=None)


def ledger_firsts(experiment: Experiment) -> dict[int, Nudge]:
    """Each learner's first decision in the experiment (before its end), from the ledger."""
    firsts: dict[int, Nudge] = {}
    rows = Nudge.objects.filter(experiment=experiment).order_by("created_at", "pk")
    for row in rows:
        if experiment.ended_at is None or row.created_at < experiment.ended_at:
            firsts.setdefault(row.learner_id, row)
    return firsts


def _outcomes(observations, reached_at, now) -> dict:
    """observations: (held out, decided at, first progress after, first level-up after)."""
    counts = {}
    for group, is_held in (("treated", False), ("held_out", True)):
        for spec in plan.OUTCOMES:
            n = hits = 0
            for held, decided_at, progress_at, level_up_at in observations:
                if held != is_held or decided_at > reached_at or decided_at > now - spec.window:
                    continue
                n += 1
                event = progress_at if spec.name.startswith("progress_") else level_up_at
                hits += event is not None and event <= decided_at + spec.window
            counts[f"{group}_{spec.name}_n"] = n
            counts[f"{group}_{spec.name}_hits"] = hits
    return counts


def ledger_counts(experiment: Experiment, now: datetime) -> dict:
    """What ``experiment_counts`` returns, computed in Python from the ledger rows (and the
    erased learners' observations), without the membership."""
    firsts = ledger_firsts(experiment)
    ended = experiment.ended_at
    erased = [
        o
        for o in ErasedObservation.objects.filter(experiment=experiment)
        if ended is None or o.decided_at < ended
    ]
    live = {
        "treated_n": sum(row.status != NudgeStatus.HELD_OUT for row in firsts.values()),
        "held_out_n": sum(row.status == NudgeStatus.HELD_OUT for row in firsts.values()),
    }
    erased_counts = {
        "treated_n": sum(not o.held_out for o in erased),
        "held_out_n": sum(o.held_out for o in erased),
    }
    states = Counter(
        (row.status == NudgeStatus.HELD_OUT, _row_state(row))
        for row in Nudge.objects.filter(experiment=experiment)
        if ended is None or row.created_at < ended
    )
    rows = {
        f"{group}_{name}": states[(is_held, name)]
        for group, is_held in (("treated", False), ("held_out", True))
        for name, _label, _condition in ROW_STATES
    }
    times = sorted([row.created_at for row in firsts.values()] + [o.decided_at for o in erased])
    planned = experiment.planned_learners
    reached_at = times[planned - 1] if 0 < planned <= len(times) else None
    if reached_at is not None:
        events = _events(firsts)
        live |= _outcomes(
            [
                (
                    row.status == NudgeStatus.HELD_OUT,
                    row.created_at,
                    _first_after(events[pk]["progress"], row.created_at),
                    _first_after(events[pk]["level_up"], row.created_at),
                )
                for pk, row in firsts.items()
            ],
            reached_at,
            now,
        )
        erased_counts |= _outcomes(
            [(o.held_out, o.decided_at, o.progress_at, o.level_up_at) for o in erased],
            reached_at,
            now,
        )
    return {
        "plan_reached_at": reached_at.isoformat() if reached_at else None,
        "live": live,
        "erased": erased_counts,
        "rows": rows,
    }


# The random history ------------------------------------------------------------------------------


def random_history(rng: random.Random, n: int) -> tuple[list, dict]:
    """Twelve weeks of decisions for ``n`` learners through ``nudges_add`` (in time order,
    as the sweep writes them), with the shares changed twice. Returns the learners and, for
    the learners to be erased, what the ledger said of them just before their erasure."""
    learners = bulk_learners(n, signed_up_at=START - timedelta(days=60), prefix="member")
    keys = list(Key.objects.order_by("pk")[:6])
    modules = list(Module.objects.order_by("pk")[:3])
    for kind in KINDS:
        experiment_set_share(kind=kind, percent=0, now=START)  # the migration's default
        experiment_set_share(kind=kind, percent=rng.choice([10, 20, 50]), now=START)
    for week in range(12):
        now = START + timedelta(weeks=week, hours=rng.randint(0, 5))
        if week == 4:  # new shares for both kinds
            for kind in KINDS:
                experiment_set_share(kind=kind, percent=rng.choice([25, 30, 40]), now=now)
        if week == 8:  # one kind's hold-out turned off, the other's share changed again
            off, other = rng.sample(KINDS, k=2)
            experiment_set_share(kind=off, percent=0, now=now)
            experiment_set_share(kind=other, percent=rng.choice([15, 60]), now=now)
        due = []
        for learner in rng.sample(learners, k=n // 2):
            kind = rng.choice(KINDS)
            due.append(Decision(learner.pk, kind, f"2026-W{10 + week}"))
            if rng.random() < 0.1:  # an instructor's "send now": in no experiment
                due.append(Decision(learner.pk, rules.NEXT_STEP, f"{rules.MANUAL_PREFIX}{week}"))
            if week and rng.random() < 0.15:  # the same decision again: the ledger ignores it
                due.append(Decision(learner.pk, kind, f"2026-W{10 + rng.randrange(week)}"))
        nudges_add(due=due, now=now)
        # What became of the emails.
        for row in Nudge.objects.filter(created_at=now, status=NudgeStatus.PENDING):
            outcome = rng.choice(["sent", "sent", "sent", "skipped", "failed", "deferred", "wait"])
            if outcome == "deferred":
                row.not_before = now + timedelta(hours=8)
            elif outcome != "wait":
                row.status = outcome
            row.save(update_fields=["status", "not_before"])
        # Progress and level changes after the decisions.
        for learner in rng.sample(learners, k=n // 4):
            at = now + timedelta(days=rng.randint(1, 20), hours=rng.randint(0, 23))
            if rng.random() < 0.5:
                KeyCompletion.objects.get_or_create(
                    learner=learner, key=rng.choice(keys), defaults={"completed_at": at}
                )
            else:
                ModuleProgress.objects.get_or_create(
                    learner=learner, module=rng.choice(modules), defaults={"completed_at": at}
                )
            before = rng.choice([None, 1, 2, 3])
            LevelChange.objects.create(
                learner=learner,
                from_level=before,
                to_level=rng.choice([1, 2, 3, 4]),
                changed_at=at + timedelta(days=rng.randint(0, 10)),
            )
    # Erasures: what the ledger said of each erased learner, then the erasure.
    expected = Counter()
    for learner in rng.sample(learners, k=n // 10):
        events = _events([learner.pk])[learner.pk]
        for experiment in Experiment.objects.filter(nudges__learner=learner).distinct():
            first = (
                Nudge.objects.filter(experiment=experiment, learner=learner)
                .order_by("created_at", "pk")
                .first()
            )
            expected[
                (
                    experiment.pk,
                    first.status == NudgeStatus.HELD_OUT,
                    first.created_at,
                    first.status,
                    _first_after(events["progress"], first.created_at),
                    _first_after(events["level_up"], first.created_at),
                )
            ] += 1
        account_erase(user=learner.user)
    return learners, expected


@pytest.mark.parametrize("seed", [1, 2])
def test_the_membership_report_equals_the_ledger_read_in_python(seed):
    rng = random.Random(seed)
    _learners, erased_expected = random_history(rng, 80)
    observed = Counter(
        ErasedObservation.objects.values_list(
            "experiment_id", "held_out", "decided_at", "status", "progress_at", "level_up_at"
        )
    )
    assert observed == erased_expected  # erasure kept exactly what the ledger said
    experiments = list(Experiment.objects.filter(kind__in=KINDS))
    assert len(experiments) >= 5 and ExperimentMember.objects.count() > 100
    for experiment in experiments:
        # Each learner once, in the group and at the time of the first ledger decision.
        assert {
            (m.learner_id, m.held_out, m.decided_at)
            for m in ExperimentMember.objects.filter(experiment=experiment)
            if experiment.ended_at is None or m.decided_at < experiment.ended_at
        } == {
            (pk, row.status == NudgeStatus.HELD_OUT, row.created_at)
            for pk, row in ledger_firsts(experiment).items()
        }
        decided = len(ledger_firsts(experiment)) + experiment.erased_observations.count()
        # Plans reached early, late and never.
        for planned in (1, max(1, decided // 3), decided, decided + 1):
            experiment.planned_learners = planned
            cache.clear()  # the moment the plan was reached is kept per experiment
            for now in (START + timedelta(weeks=3), START + timedelta(weeks=20)):
                assert experiment_counts(experiment=experiment, now=now) == ledger_counts(
                    experiment, now
                ), (experiment, planned, now)


def test_the_migrations_backfill_rebuilds_the_membership_from_the_ledger():
    """The learners' rows deleted (as before the migration), ``members_from_the_ledger``
    writes them again as the ledger service wrote them."""
    random_history(random.Random(3), 40)
    written = set(
        ExperimentMember.objects.values_list(
            "experiment_id", "learner_id", "held_out", "decided_at"
        )
    )
    ExperimentMember.objects.all().delete()
    migration = importlib.import_module("learners.nudges.migrations.0007_experiment_members")
    migration.members_from_the_ledger(apps, None)
    assert (
        set(
            ExperimentMember.objects.values_list(
                "experiment_id", "learner_id", "held_out", "decided_at"
            )
        )
        == written
    )
    assert len(written) > 50
