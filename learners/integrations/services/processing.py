"""Turning a stored event into a module completion, exactly once."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from ...models import CompletionSource, Learner
from ...services import module_set_done
from .. import platforms
from ..models import EventStatus, ModuleMapping, WebhookEvent

logger = logging.getLogger(__name__)

# Statuses an event leaves only by a replay.
SETTLED = frozenset(
    {
        EventStatus.PROCESSED,
        EventStatus.DUPLICATE,
        EventStatus.UNMATCHED,
        EventStatus.UNMAPPED,
        EventStatus.IGNORED,
        EventStatus.FAILED,
    }
)


def webhook_event_process(*, event_id: int, replay: bool = False) -> str:
    """Process one event (a replay processes a settled one again) and return its status.

    The event row is locked while its completion is written, and both commit together:
    a second worker handed the same event waits, then finds it settled. A rejected
    delivery is never processed, even on replay (its signature did not verify).
    """
    with transaction.atomic():
        event = (
            WebhookEvent.objects.select_for_update(of=("self",))
            .select_related("connection")
            .filter(pk=event_id)
            .first()
        )
        if event is None:
            return ""
        if event.status == EventStatus.REJECTED or (not replay and event.status in SETTLED):
            return event.status
        try:
            with transaction.atomic():
                event.status, event.note = _apply(event)
        except Exception as error:  # noqa: BLE001 - recorded on the event for the admin
            logger.exception("webhook event %s failed", event.pk)
            event.status, event.note = EventStatus.FAILED, f"{type(error).__name__}: {error}"
        event.processed_at = timezone.now()
        event.save(
            update_fields=[
                "status",
                "note",
                "processed_at",
                "learner",
                "module",
                "topic",
                "email",
                "course_id",
                "lesson_id",
                "occurred_at",
            ]
        )
        return event.status


def _apply(event: WebhookEvent) -> tuple[str, str]:
    connection = event.connection
    # Read again from the raw body, so that a replay sees today's reading and mappings.
    (delivery,) = platforms.read(connection.kind, bytes(event.body), event.headers)
    event.topic, event.email = delivery.topic, delivery.email
    event.course_id, event.lesson_id = delivery.course_id, delivery.lesson_id
    event.occurred_at = platforms.occurred(delivery.occurred_at, event.received_at)
    if not delivery.completes:
        return EventStatus.IGNORED, f"{delivery.topic or 'this event'} records no completion"
    mapping = (
        ModuleMapping.objects.select_related("module")
        .filter(connection=connection, course_id=delivery.course_id, lesson_id=delivery.lesson_id)
        .first()
    )
    if mapping is None:
        what = f"course {delivery.course_id}" + (
            f", lesson {delivery.lesson_id}" if delivery.lesson_id else ""
        )
        return EventStatus.UNMAPPED, f"{what} is not mapped to a module (map it, then replay)"
    event.module = mapping.module
    # ``delivery.email`` is lower-cased (platforms._email); matching ``Lower(email)`` uses the
    # index that keeps addresses unique (user_email_unique_ci), where ``iexact``'s UPPER()
    # could only use the trigram index (bench/results/2026-12-07-webhooks-notes.md).
    learner = (
        Learner.objects.alias(address=Lower("user__email"))
        .filter(address=delivery.email, user__is_staff=False, user__is_superuser=False)
        .first()
        if delivery.email
        else None
    )
    if learner is None:
        return EventStatus.UNMATCHED, f"no learner with the email “{delivery.email}” yet"
    event.learner = learner
    module_set_done(
        learner=learner,
        module=mapping.module,
        done=True,
        source=CompletionSource.PLATFORM,
        via=connection.name,
        completed_at=event.occurred_at,
    )
    return EventStatus.PROCESSED, f"module {mapping.module.number} completed"
