"""Handing events to a worker: once stored, again when their learner appears, on an
instructor's request, and when one never reached a worker."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.cache import cache
from django.utils import timezone

from ...broker import task_hand, task_hand_on_commit
from ..models import EventStatus, WebhookEvent
from ..tasks import webhook_events_process_task

BATCH_SIZE = 500
# An event still "received" this long after it arrived never reached a worker.
HAND_AGAIN_AFTER = timedelta(minutes=2)
# Set while a task that will claim the received events is queued and not yet started.
HANDED_KEY = "webhook-events:handed"
HANDED_SECONDS = 60


def webhook_events_hand() -> None:
    """Have a worker claim the received events: one task queued at a time, however many
    deliveries arrive meanwhile (a cohort finishing a lesson at once is one task per
    batch, not one per delivery).

    Call it once the events are committed. The key is set while a task is queued; the
    task deletes it before it claims (``processing.webhook_events_process_received``), so
    an event committed before a call that found the key set is claimed by that task, or by
    the task it hands on when its batch was full. Without Redis the key cannot be read
    (``pyramid_site.cache`` answers True) and a task is queued each time; if the broker is
    down too, the frequent pass (``webhook_events_hand_received``) hands the events later.
    """
    if not cache.add(HANDED_KEY, 1, timeout=HANDED_SECONDS):
        return
    if not task_hand(webhook_events_process_task):
        cache.delete(HANDED_KEY)  # none queued: the next delivery or the pass tries again


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
    waiting = WebhookEvent.objects.filter(
        status=EventStatus.RECEIVED, received_at__lt=cutoff
    ).count()
    if waiting:
        cache.delete(HANDED_KEY)  # a task may have been lost with the broker
        webhook_events_hand()
    return waiting
