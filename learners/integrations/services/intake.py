"""Storing a webhook delivery: every delivery becomes an event before it is answered."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from .. import platforms
from ..models import EventStatus, PlatformConnection, WebhookEvent
from ..tasks import webhook_events_process_task

logger = logging.getLogger(__name__)


def webhook_receive(
    *,
    connection: PlatformConnection,
    body: bytes,
    headers: dict[str, str],
    now: datetime | None = None,
) -> WebhookEvent:
    """Verify and store one delivery; a verified first delivery of its event id is handed
    to a worker once stored. A rejected delivery is stored as such and nothing else is
    written. Returns the stored event (its ``status`` says what became of it)."""
    now = now or timezone.now()
    event = WebhookEvent(
        connection=connection,
        body=body,
        headers=platforms.kept_headers(headers),
        received_at=now,
    )
    try:
        platforms.verify(connection.kind, connection.secret_list, body, headers, now)
    except platforms.Rejected as problem:
        event.status, event.note = EventStatus.REJECTED, str(problem)
        event.save()
        return event
    try:
        delivery = platforms.read(connection.kind, body, headers)
    except platforms.Unreadable as problem:
        event.status, event.note = EventStatus.FAILED, str(problem)
        event.save()
        return event
    event.event_id = delivery.event_id
    event.topic = delivery.topic
    event.occurred_at = delivery.occurred_at
    event.email = delivery.email
    event.course_id = delivery.course_id
    event.lesson_id = delivery.lesson_id
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    event.dedup_key = delivery.event_id
                    event.save()
            except IntegrityError:
                event.pk, event.dedup_key = None, None
                event.status = EventStatus.DUPLICATE
                event.note = f"event {delivery.event_id} was already received"
                event.save()
            if event.status == EventStatus.RECEIVED:
                webhook_events_process_task.delay_on_commit([event.pk])
    except OperationalError:
        # Stored, but the broker is down: the frequent pass hands it once it is back.
        logger.exception("webhook event %s stored but not handed to a worker", event.pk)
    return event
