"""The hourly sweep: decide every learner's nudges and hand each chunk's new rows on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from .. import rules
from ..models import Nudge, NudgeStatus
from ..selectors import learners_for_sweep, nudge_facts
from .experiments import experiments_running
from .handoff import Handoff
from .ledger import nudges_add


@dataclass
class KindCounts:
    due: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    held_out: int = 0  # due, recorded, never sent: in the experiment's hold-out group
    waiting: int = 0  # due, recorded, not sent yet: deferred (cap, quiet hours) or at a worker
    # ``skipped`` counts both: not due for a reason (opted out, unverified) when deciding, and
    # due but skipped when sending (the reason appeared meanwhile). The second are due rows.
    skipped_when_sending: int = 0

    @property
    def accounted(self) -> int:
        """What became of the due nudges; equals ``due`` unless a row was already recorded
        (by a sweep running at the same time)."""
        return self.sent + self.waiting + self.held_out + self.failed + self.skipped_when_sending


@dataclass
class SweepReport:
    at: datetime
    learners: int = 0
    chunks: int = 0
    handed: int = 0  # chunks handed to a worker (or sent in-process)
    not_handed: int = 0  # chunks left for the frequent pass (broker unreachable)
    kinds: dict[str, KindCounts] = field(
        default_factory=lambda: {kind: KindCounts() for kind in rules.KINDS}
    )


def nudges_sweep(
    *, now: datetime | None = None, chunk_size: int | None = None, dry_run: bool = False
) -> SweepReport:
    """Decide every learner's nudges as of ``now`` and hand each chunk's new rows to a worker.

    A chunk costs a fixed number of queries: learners, verified addresses, latest ledger
    rows, one bulk insert, the new rows' ids, and (after commit) one update of ``handed_at``.
    """
    # Given a moment (send_nudges --at), the whole send runs as of it: quiet hours, the cap
    # and the emails' day counts, so that instructors can rehearse a sweep.
    handoff = Handoff(at=now)
    now = now or timezone.now()
    chunk_size = chunk_size or settings.LEARNER_CHUNK_SIZE
    report = SweepReport(at=now)
    base = learners_for_sweep()
    running = experiments_running(now=now)
    last_pk = 0
    while chunk := list(base.filter(pk__gt=last_pk)[:chunk_size]):
        last_pk = chunk[-1].pk
        report.chunks += 1
        report.learners += len(chunk)
        decisions = [d for facts in nudge_facts(chunk) for d in rules.decide(facts, now)]
        for decision in decisions:
            counts = report.kinds[decision.kind]
            if decision.due:
                counts.due += 1
            else:
                counts.skipped += 1
        due = [d for d in decisions if d.due]
        if dry_run or not due:
            continue
        with transaction.atomic():
            handoff.on_commit(nudges_add(due=due, now=now, running=running))
    report.handed, report.not_handed = handoff.handed, handoff.not_handed
    if not dry_run:
        _count_outcomes(report)
    return report


def _count_outcomes(report: SweepReport) -> None:
    """Add what became of the sweep's rows so far (all of them when sent in-process)."""
    for kind, status, n in (
        Nudge.objects.filter(created_at=report.at)
        .order_by()
        .values_list("kind", "status")
        .annotate(n=Count("pk"))
    ):
        counts = report.kinds[kind]
        if status == NudgeStatus.SENT:
            counts.sent += n
        elif status == NudgeStatus.FAILED:
            counts.failed += n
        elif status == NudgeStatus.SKIPPED:
            counts.skipped += n
            counts.skipped_when_sending += n
        elif status == NudgeStatus.HELD_OUT:
            counts.held_out += n
        else:
            counts.waiting += n
