"""Handing events to a worker again: when their learner appears, on an instructor's
request, and when one never reached a worker."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.utils import timezone

from ...broker import task_hand_on_commit
from ..models import EventStatus, WebhookEvent
from ..tasks import webhook_events_process_task

BATCH_SIZE = 500
# An event still "received" this long after it arrived never reached a worker.
HAND_AGAIN_AFTER = timedelta(minutes=2)


def webhook_events_replay_for(*, emails: Iterable[str]) -> int:
    """Replay the unmatched events of these learners once the caller's transaction commits
    (they have just appeared: import, signup, API). Returns how many were handed."""
    pending = WebhookEvent.objects.filter(status=EventStatus.UNMATCHED)
    if not pending.exists():  # the usual case: one query for a whole import
        return 0
    wanted = sorted({email.strip().lower() for email in emails if email})
    handed = 0
    for start in range(0, len(wanted), BATCH_SIZE):
        ids = list(
            pending.filter(email__in=wanted[start : start + BATCH_SIZE])
            .order_by("occurred_at", "pk")
            .values_list("pk", flat=True)
        )
        if ids:
            task_hand_on_commit(webhook_events_process_task, ids, replay=True)
            handed += len(ids)
    return handed


def webhook_events_replay(*, event_ids: list[int]) -> int:
    """An instructor's replay (rejected deliveries are never processed)."""
    ids = list(
        WebhookEvent.objects.filter(pk__in=event_ids)
        .exclude(status=EventStatus.REJECTED)
        .order_by("occurred_at", "pk")
        .values_list("pk", flat=True)
    )
    if ids:
        task_hand_on_commit(webhook_events_process_task, ids, replay=True)
    return len(ids)


def webhook_events_hand_received(*, now: datetime | None = None) -> int:
    """Hand again the events stored while the broker was down."""
    cutoff = (now or timezone.now()) - HAND_AGAIN_AFTER
    ids = list(
        WebhookEvent.objects.filter(status=EventStatus.RECEIVED, received_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:BATCH_SIZE]
    )
    if ids:
        webhook_events_process_task.delay(ids)
    return len(ids)
