"""Celery tasks: take ids, call one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="integrations.process_events", acks_late=True)
def webhook_events_process_task(event_ids: list[int] | None = None, replay: bool = False) -> dict:
    """A replay settles the events named; otherwise a batch of the received events is
    claimed (the ids of a message queued before batching are claimed by it, or by the
    tasks a full batch hands on)."""
    from .services.processing import webhook_events_process, webhook_events_process_received

    if replay:
        statuses: dict[str, int] = {}
        for status in webhook_events_process(event_ids=event_ids or [], replay=True).values():
            statuses[status] = statuses.get(status, 0) + 1
        return statuses
    return webhook_events_process_received()


@shared_task(name="integrations.hand_received")
def webhook_events_hand_received_task() -> int:
    from .services.replay import webhook_events_hand_received

    return webhook_events_hand_received()
