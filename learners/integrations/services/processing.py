"""Turning stored events into module completions, exactly once, a batch at a time.

A worker claims up to ``BATCH_SIZE`` received events (``SELECT … FOR UPDATE SKIP LOCKED``:
two workers never claim the same event, and neither waits for the other) and settles them
in one transaction: one query each for their mappings, their learners, the learners' locks
and existing progress, one bulk insert of the new completions, one recompute per learner
however many of its events the batch holds, one UPDATE of the events. An event that
cannot be read is FAILED on its own; if the batch's writes fail, each of its completions is
written again on its own savepoint, so one bad event never fails the others.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone

from curriculum.models import Module

from ...models import CompletionSource, Learner, ModuleProgress
from ...services import module_set_done
from ...services.levels import learners_to_recompute, recompute_locked_many
from .. import platforms
from ..models import EventStatus, ModuleMapping, WebhookEvent

logger = logging.getLogger(__name__)

BATCH_SIZE = 100

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
UPDATED_FIELDS = [
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


@dataclass
class Completion:
    """A module a platform completed for a learner (the earliest time its events give)."""

    learner_id: int
    module: Module
    completed_at: datetime
    via: str
    events: list[WebhookEvent]


def webhook_events_process_received(*, batch_size: int | None = None) -> dict[str, int]:
    """Claim up to ``batch_size`` received events no other worker holds and settle them;
    a full batch asks for another worker task first (there may be more). Returns a count
    of the statuses given."""
    from django.core.cache import cache

    from ..tasks import webhook_events_process_task
    from .replay import HANDED_KEY, webhook_events_hand

    cache.delete(HANDED_KEY)  # before the claim: see ``replay.webhook_events_hand``
    batch_size = batch_size or BATCH_SIZE
    with transaction.atomic():
        events = list(
            WebhookEvent.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("connection")
            .filter(status=EventStatus.RECEIVED)
            .order_by("pk")[:batch_size]
        )
        if len(events) == batch_size:
            # More may be waiting: another worker process claims the next batch meanwhile
            # (an eager task, as in tests, would run inside this transaction: after it).
            if webhook_events_process_task.app.conf.task_always_eager:
                transaction.on_commit(webhook_events_hand)
            else:
                webhook_events_hand()
        _settle(events)
    return dict(Counter(event.status for event in events))


def webhook_events_process(*, event_ids: Iterable[int], replay: bool = False) -> dict[int, str]:
    """Settle these events (waiting for a worker that holds one); a replay settles settled
    ones again. A rejected delivery is never processed, even on replay (its signature did
    not verify). Returns each event's status."""
    with transaction.atomic():
        events = list(
            WebhookEvent.objects.select_for_update(of=("self",))
            .select_related("connection")
            .filter(pk__in=list(event_ids))
            .order_by("pk")
        )
        _settle(
            [
                event
                for event in events
                if event.status != EventStatus.REJECTED and (replay or event.status not in SETTLED)
            ]
        )
    return {event.pk: event.status for event in events}


def webhook_event_process(*, event_id: int, replay: bool = False) -> str:
    """Settle one event (``webhook_events_process``); its status, "" if there is none."""
    return webhook_events_process(event_ids=[event_id], replay=replay).get(event_id, "")


def _settle(events: list[WebhookEvent]) -> None:
    """Settle locked events inside the caller's transaction."""
    if not events:
        return
    completions = _completions(events)
    if completions:
        try:
            with transaction.atomic():
                _completions_write(completions)
        except Exception:  # noqa: BLE001 - retried one at a time, so that one bad event stays alone
            logger.exception("webhook batch write failed; writing its events one at a time")
            for completion in completions:
                _completion_write_alone(completion)
    now = timezone.now()
    for event in events:
        event.processed_at = now
    _events_save(events)


def _events_save(events: list[WebhookEvent]) -> None:
    """One UPDATE of each event's outcome, sent together (``executemany``: one pipeline of
    prepared statements on psycopg). ``bulk_update``'s CASE per field and row cost 12 ms of
    Python per event, twice what the rest of the batch costs (a profile of 100 events)."""
    fields = [WebhookEvent._meta.get_field(name) for name in UPDATED_FIELDS]
    primary_key = WebhookEvent._meta.pk
    sql = "UPDATE {table} SET {columns} WHERE {pk} = %s".format(  # noqa: S608 - quoted names
        # from the model's metadata; every value a parameter
        table=connection.ops.quote_name(WebhookEvent._meta.db_table),
        columns=", ".join(f"{connection.ops.quote_name(field.column)} = %s" for field in fields),
        pk=connection.ops.quote_name(primary_key.column),
    )
    rows = [
        [field.get_db_prep_save(getattr(event, field.attname), connection) for field in fields]
        + [event.pk]
        for event in events
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _completions(events: list[WebhookEvent]) -> list[Completion]:
    """Read each event again from its raw body (so that a replay sees today's reading and
    mappings) and give it a status; those that complete a module for a learner, grouped
    by learner and module."""
    deliveries = {}
    for event in events:
        try:
            deliveries[event.pk] = _read(event)
        except Exception as error:  # noqa: BLE001 - recorded on the event for the admin
            logger.exception("webhook event %s failed", event.pk)
            _fail(event, error)
    readable = [event for event in events if event.pk in deliveries]
    mappings = _mappings(readable)
    learners = _learners(
        {event.email for event in readable if event.email and deliveries[event.pk].completes}
    )
    completions: dict[tuple[int, int], Completion] = {}
    for event in readable:
        delivery = deliveries[event.pk]
        if not delivery.completes:
            event.status = EventStatus.IGNORED
            event.note = f"{delivery.topic or 'this event'} records no completion"
            continue
        mapping = mappings.get((event.connection_id, event.course_id, event.lesson_id))
        if mapping is None:
            what = f"course {event.course_id}" + (
                f", lesson {event.lesson_id}" if event.lesson_id else ""
            )
            event.status = EventStatus.UNMAPPED
            event.note = f"{what} is not mapped to a module (map it, then replay)"
            continue
        event.module = mapping.module
        learner_id = learners.get(event.email)
        if learner_id is None:
            event.status = EventStatus.UNMATCHED
            event.note = f"no learner with the email “{event.email}” yet"
            continue
        event.learner_id = learner_id
        event.status = EventStatus.PROCESSED
        event.note = f"module {mapping.module.number} completed"
        key = (learner_id, mapping.module_id)
        if key in completions:
            completion = completions[key]
            completion.completed_at = min(completion.completed_at, event.occurred_at)
            completion.events.append(event)
        else:
            completions[key] = Completion(
                learner_id, mapping.module, event.occurred_at, event.connection.name, [event]
            )
    return list(completions.values())


def _read(event: WebhookEvent) -> platforms.Delivery:
    (delivery,) = platforms.read(event.connection.kind, bytes(event.body), event.headers)
    event.topic, event.email = delivery.topic, delivery.email
    event.course_id, event.lesson_id = delivery.course_id, delivery.lesson_id
    event.occurred_at = platforms.occurred(delivery.occurred_at, event.received_at)
    return delivery


def _fail(event: WebhookEvent, error: Exception) -> None:
    event.status, event.note = EventStatus.FAILED, f"{type(error).__name__}: {error}"
    event.learner, event.module = None, None


def _mappings(events: list[WebhookEvent]) -> dict[tuple[int, str, str], ModuleMapping]:
    wanted = {(event.connection_id, event.course_id, event.lesson_id) for event in events}
    if not wanted:
        return {}
    found = ModuleMapping.objects.select_related("module").filter(
        connection_id__in={connection for connection, _, _ in wanted},
        course_id__in={course for _, course, _ in wanted},
    )
    return {
        (mapping.connection_id, mapping.course_id, mapping.lesson_id): mapping
        for mapping in found
        if (mapping.connection_id, mapping.course_id, mapping.lesson_id) in wanted
    }


def _learners(emails: set[str]) -> dict[str, int]:
    """Learner ids by address. Addresses are lower-cased (platforms._email); matching
    ``Lower(email)`` uses the index that keeps addresses unique (user_email_unique_ci),
    where ``iexact``'s UPPER() could only use the trigram index
    (bench/results/2026-12-07-webhooks-notes.md)."""
    if not emails:
        return {}
    return dict(
        Learner.objects.annotate(address=Lower("user__email"))
        .filter(address__in=emails, user__is_staff=False, user__is_superuser=False)
        .values_list("address", "pk")
    )


def _completions_write(completions: list[Completion]) -> None:
    """What ``module_set_done`` does for each completion, for the whole batch at once: the
    learners locked (in id order), each module completion inserted or moved earlier, each
    learner's activity and version bumped and its level recomputed once."""
    learner_ids = sorted({completion.learner_id for completion in completions})
    locked = list(learners_to_recompute().filter(pk__in=learner_ids))
    # Read the clock once the rows are ours, so each learner's history is in time order.
    now = timezone.now()
    existing = {
        (row.learner_id, row.module_id): row
        for row in ModuleProgress.objects.filter(
            learner_id__in=learner_ids,
            module_id__in={completion.module.pk for completion in completions},
        ).only("pk", "learner_id", "module_id", "completed_at")
    }
    new = []
    for completion in completions:
        row = existing.get((completion.learner_id, completion.module.pk))
        if row is None:
            new.append(
                ModuleProgress(
                    learner_id=completion.learner_id,
                    module=completion.module,
                    completed_at=completion.completed_at or now,
                    source=CompletionSource.PLATFORM,
                    via=completion.via,
                )
            )
        elif completion.completed_at and completion.completed_at < row.completed_at:
            # A completion is a fact with a time: an earlier report (out of order) wins.
            ModuleProgress.objects.filter(pk=row.pk).update(completed_at=completion.completed_at)
    ModuleProgress.objects.bulk_create(new)
    Learner.objects.filter(pk__in=learner_ids).update(
        last_activity_at=now, version=F("version") + 1
    )
    recompute_locked_many(locked)


def _completion_write_alone(completion: Completion) -> None:
    """One completion on its own savepoint (``module_set_done``); its events FAILED if it
    cannot be written."""
    try:
        with transaction.atomic():
            module_set_done(
                learner=Learner.objects.get(pk=completion.learner_id),
                module=completion.module,
                done=True,
                source=CompletionSource.PLATFORM,
                via=completion.via,
                completed_at=completion.completed_at,
            )
    except Exception as error:  # noqa: BLE001 - recorded on the events for the admin
        logger.exception("webhook events %s failed", [event.pk for event in completion.events])
        for event in completion.events:
            _fail(event, error)
