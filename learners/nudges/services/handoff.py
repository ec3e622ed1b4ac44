"""Handing ledger rows to workers: after commit, and again by the frequent pass."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ...broker import task_hand
from ..models import Nudge, NudgeStatus

# The frequent pass hands again a pending row handed this long ago (its task was lost).
HAND_AGAIN_AFTER = timedelta(hours=1)
# ...and leaves alone a row created a moment ago, which its creator is handing right now.
HAND_GRACE = timedelta(minutes=1)


class Handoff:
    """Hands lists of nudge ids to a worker after commit; remembers a broker outage so a
    sweep stops trying (the frequent pass hands those rows once the broker is back)."""

    def __init__(self, *, at: datetime | None = None) -> None:
        # A sweep run as of a given moment (send_nudges --at) sends as of that moment too.
        self.at = at
        self.broker_down = False
        self.handed = 0
        self.not_handed = 0

    def on_commit(self, nudge_ids: list[int]) -> None:
        if nudge_ids:
            transaction.on_commit(lambda: self.hand(nudge_ids))

    def hand(self, nudge_ids: list[int]) -> bool:
        if self.broker_down or not nudges_hand(nudge_ids=nudge_ids, at=self.at):
            self.broker_down = True
            self.not_handed += 1
            return False
        self.handed += 1
        return True


def nudges_hand(*, nudge_ids: list[int], at: datetime | None = None) -> bool:
    """Publish one chunk task (to send as of ``at`` when given, else as of the moment the
    worker sends); on success stamp ``handed_at``.

    When the broker is down (``learners.broker``'s policy) the rows stay pending with
    ``handed_at`` empty for the frequent pass.
    """
    from ..tasks import nudges_send_chunk

    args = [list(nudge_ids)] if at is None else [list(nudge_ids), at.isoformat()]
    if not task_hand(nudges_send_chunk, *args):
        return False
    Nudge.objects.filter(pk__in=nudge_ids).update(handed_at=timezone.now())
    return True


def nudges_hand_pending(*, now: datetime | None = None, chunk_size: int | None = None) -> int:
    """The frequent pass: hand to workers pending rows that never reached one (the broker
    was down, or they were deferred and their moment came) or were handed long ago. Rows in
    ``sending`` and rows deferred to a later moment are left alone. Returns how many rows
    were handed."""
    now = now or timezone.now()
    chunk_size = chunk_size or settings.LEARNER_CHUNK_SIZE
    ids = list(
        Nudge.objects.filter(
            Q(handed_at__isnull=True, created_at__lte=now - HAND_GRACE)
            | Q(handed_at__lte=now - HAND_AGAIN_AFTER),
            Q(not_before__isnull=True) | Q(not_before__lte=now),
            status=NudgeStatus.PENDING,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    handoff = Handoff()
    handed = 0
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start : start + chunk_size]
        if not handoff.hand(chunk):
            break
        handed += len(chunk)
    return handed
