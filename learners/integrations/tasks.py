"""Celery tasks: take ids, call one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="integrations.process_events", acks_late=True)
def webhook_events_process_task(event_ids: list[int], replay: bool = False) -> dict:
    from .services.processing import webhook_event_process

    statuses: dict[str, int] = {}
    for event_id in event_ids:
        status = webhook_event_process(event_id=event_id, replay=replay)
        statuses[status] = statuses.get(status, 0) + 1
    return statuses


@shared_task(name="integrations.hand_received")
def webhook_events_hand_received_task() -> int:
    from .services.replay import webhook_events_hand_received

    return webhook_events_hand_received()
