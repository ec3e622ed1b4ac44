"""Ledger rows: created once per (learner, kind, dedup key) and handed to a worker after
commit. A sweep, a level change, a confirmed address or an instructor creates them."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ...models import Learner, LevelChange, User
from .. import rules
from ..models import Experiment, Nudge, NudgeStatus
from ..rules import Decision
from ..selectors import FACT_FIELDS, learners_for_sweep, nudge_facts
from .experiments import experiment_assign, experiment_members_add, experiments_running
from .handoff import Handoff

logger = logging.getLogger(__name__)


def _new_row(decision: Decision, now: datetime, running: dict) -> Nudge:
    """The ledger row of a due decision: in the running experiment of its kind, if any (an
    instructor's "send now" never is), and "held out" (recorded, never sent) when the
    learner falls in its hold-out group."""
    experiment, held = experiment_assign(running, decision)
    return Nudge(
        learner_id=decision.learner_id,
        kind=decision.kind,
        dedup_key=decision.dedup_key,
        created_at=now,
        experiment=experiment,
        status=NudgeStatus.HELD_OUT if held else NudgeStatus.PENDING,
    )


def nudges_add(
    *, due: list[Decision], now: datetime, running: dict[str, Experiment] | None = None
) -> list[int]:
    """Insert the due rows (a duplicate is ignored by the unique constraint), enter the new
    rows' learners in their experiments, and return the ids of this batch's rows still
    waiting for a worker (held-out rows never wait). Two queries, a third when rows are in
    an experiment, and one more unless the running experiments are given."""
    if running is None:
        running = experiments_running(now=now)
    Nudge.objects.bulk_create([_new_row(d, now, running) for d in due], ignore_conflicts=True)
    wanted = Q()
    for kind in {d.kind for d in due}:
        wanted |= Q(kind=kind, dedup_key__in={d.dedup_key for d in due if d.kind == kind})
    rows = list(
        Nudge.objects.filter(wanted, learner_id__in={d.learner_id for d in due})
        .filter(
            Q(status=NudgeStatus.PENDING, handed_at__isnull=True)
            | Q(created_at=now, experiment__isnull=False)
        )
        .order_by("pk")
        .only("pk", "learner", "experiment", "status", "created_at", "handed_at")
    )
    # The rows made now (a duplicate of an earlier decision kept its own experiment).
    experiment_members_add(rows=[row for row in rows if row.created_at == now])
    return [row.pk for row in rows if row.status == NudgeStatus.PENDING and row.handed_at is None]


def _nudge_add_one(decision: Decision, now: datetime) -> Nudge | None:
    """The row for one decision if it is due and new, handed to a worker after commit."""
    if not decision.due:
        logger.info(
            "No %s nudge to learner %s: %s",
            decision.kind,
            decision.learner_id,
            decision.skip_reason,
        )
        return None
    row = _new_row(decision, now, experiments_running(now=now))
    nudge, created = Nudge.objects.get_or_create(
        learner_id=decision.learner_id,
        kind=decision.kind,
        dedup_key=decision.dedup_key,
        defaults={"created_at": now, "experiment": row.experiment, "status": row.status},
    )
    if created:
        experiment_members_add(rows=[nudge])
    if created and nudge.status == NudgeStatus.PENDING:
        Handoff().on_commit([nudge.pk])
    return nudge if created else None


def nudge_level_up(
    *, learner: Learner, change: LevelChange, now: datetime | None = None
) -> Nudge | None:
    """Called when a learner's level went up (inside the transaction that changed it): the
    ledger row for the level reached, handed to a worker once that transaction commits."""
    decision = rules.level_up_decision(
        nudge_facts([learner])[0], from_level=change.from_level, to_level=change.to_level
    )
    return _nudge_add_one(decision, now or timezone.now())


def nudge_placement(*, learner: Learner, now: datetime | None = None) -> Nudge | None:
    """Called when the learner's own self-assessment placed them (inside that transaction):
    the email saying where they start and why, once."""
    decision = rules.placement_decision(nudge_facts([learner])[0])
    return _nudge_add_one(decision, now or timezone.now()) if decision else None


def nudges_level_up_many(*, changes: list[LevelChange], now: datetime | None = None) -> int:
    """The level_up rows for a chunk of level changes made in bulk (recompute after a
    curriculum edit or an import), inside the caller's transaction: a fixed number of
    queries whatever the chunk's size. Returns how many rows were due."""
    went_up = {change.learner_id: change for change in changes if change.went_up}
    if not went_up:
        return 0
    learners = list(learners_for_sweep().filter(pk__in=list(went_up)))
    decisions = [
        rules.level_up_decision(
            facts,
            from_level=went_up[facts.learner_id].from_level,
            to_level=went_up[facts.learner_id].to_level,
        )
        for facts in nudge_facts(learners)
    ]
    due = [d for d in decisions if d.due]
    if due:
        Handoff().on_commit(nudges_add(due=due, now=now or timezone.now()))
    return len(due)


def nudge_welcome(*, user: User, now: datetime | None = None) -> Nudge | None:
    """Called when an address was confirmed: the welcome, once."""
    learner = Learner.objects.filter(user=user).select_related("user").only(*FACT_FIELDS).first()
    if learner is None:
        return None
    decision = rules.welcome_decision(nudge_facts([learner])[0])
    return _nudge_add_one(decision, now or timezone.now()) if decision else None


def nudge_send_now(*, learner_ids: Iterable[int], now: datetime | None = None) -> int:
    """An instructor's "send a next-step nudge now" for these learners (those who opted out
    or have no verified address are left out). At most one per learner and local day.
    Returns how many nudges were queued."""
    now = now or timezone.now()
    ids = sorted(set(learner_ids))
    handoff = Handoff()
    queued = 0
    chunk_size = settings.LEARNER_CHUNK_SIZE
    for start in range(0, len(ids), chunk_size):
        chunk = list(learners_for_sweep().filter(pk__in=ids[start : start + chunk_size]))
        due = [
            d
            for d in (rules.manual_next_step_decision(f, now) for f in nudge_facts(chunk))
            if d.due
        ]
        if not due:
            continue
        with transaction.atomic():
            nudge_ids = nudges_add(due=due, now=now)
            handoff.on_commit(nudge_ids)
        queued += len(nudge_ids)
    return queued
