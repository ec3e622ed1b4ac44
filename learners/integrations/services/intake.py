"""Receiving a webhook delivery: refuse strangers cheaply, store what is authenticated.

Nothing an unauthenticated sender writes is stored: a refused delivery leaves at most a
small ``DeliveryRefusal`` (why, when, size, client IP; ``REFUSALS_KEPT`` per connection),
and refusals are counted per client and per connection in the shared cache, so a flood is
answered 429 before its body is read. Bodies over ``platforms.MAX_BODY_BYTES`` get 413
before they are read. An authenticated delivery becomes one event per item it holds,
each handed to a worker once stored.
"""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from .. import platforms
from ..models import (
    DeliveryRefusal,
    EventStatus,
    PlatformConnection,
    WebhookEvent,
    connection_cache_key,
)
from ..selectors import connection_by_slug
from .replay import webhook_events_hand

logger = logging.getLogger(__name__)

REFUSALS_KEPT = 100
WINDOW_SECONDS = 60


@dataclass
class Receipt:
    """What to answer a delivery: the HTTP status, a sentence, the events stored."""

    status: int
    detail: str = ""
    events: list[WebhookEvent] = field(default_factory=list)
    retry_after: int | None = None


def webhook_receive(
    *,
    slug: str,
    url_token: str,
    declared_size: int,
    read_body: Callable[[], bytes],
    headers: dict[str, str],
    client_ip: str | None,
    now: datetime | None = None,
) -> Receipt:
    """Authenticate and store one delivery to ``/webhooks/<slug>/[<url_token>/]``.

    ``read_body`` is called only once the sender has passed every check that needs no
    body (rate limits, the connection, the token, the declared size)."""
    now = now or timezone.now()
    client_key = _client_key(client_ip, now)
    refusals, connection = _refusals_and_cached_connection(client_key, slug)
    if refusals >= settings.WEBHOOK_REFUSALS_PER_CLIENT:
        return _too_many(now)
    connection = connection or connection_by_slug(slug)
    if connection is None:
        _count(client_key)
        return Receipt(404, "There is no such webhook connection.")
    token_ok = _token_matches(connection, url_token, now)
    if url_token and not token_ok:
        return _refuse(connection, client_ip, now, 401, "the URL token is not valid", declared_size)
    if declared_size > platforms.MAX_BODY_BYTES:
        return _refuse(
            connection,
            client_ip,
            now,
            413,
            f"the body is larger than {platforms.MAX_BODY_BYTES // 1024} KB",
            declared_size,
        )
    body = read_body()
    try:
        platforms.verify(
            connection.kind, connection.secret_list, body, headers, now, token_ok=token_ok
        )
    except platforms.Rejected as problem:
        return _refuse(connection, client_ip, now, 401, str(problem), len(body))
    try:
        deliveries = platforms.read(connection.kind, body, headers)
    except platforms.Unreadable as problem:
        # Authenticated, so kept (bounded by the size limit) for an instructor to see.
        WebhookEvent.objects.create(
            connection=connection,
            body=body,
            headers=platforms.kept_headers(headers),
            received_at=now,
            status=EventStatus.FAILED,
            note=str(problem),
        )
        return Receipt(400, f"The delivery was authenticated but {problem}.")
    events = [_store(connection, delivery, headers, now) for delivery in deliveries]
    if any(event.status == EventStatus.RECEIVED for event in events):
        transaction.on_commit(webhook_events_hand)
    return Receipt(202, events=events)


def _store(
    connection: PlatformConnection,
    delivery: platforms.Delivery,
    headers: dict[str, str],
    now: datetime,
) -> WebhookEvent:
    event = WebhookEvent(
        connection=connection,
        body=delivery.raw,
        headers=platforms.kept_headers(headers),
        received_at=now,
        event_id=delivery.event_id,
        topic=delivery.topic,
        occurred_at=platforms.occurred(delivery.occurred_at, now),
        email=delivery.email,
        course_id=delivery.course_id,
        lesson_id=delivery.lesson_id,
    )
    event.dedup_key = delivery.event_id
    if not _insert_once(event):
        event.dedup_key = None
        event.status = EventStatus.DUPLICATE
        event.note = f"event {delivery.event_id} was already received"
        event.save()
    return event


def _insert_once(event: WebhookEvent) -> bool:
    """Store the event unless its platform's event id was received before: one statement,
    ``INSERT … ON CONFLICT DO NOTHING RETURNING id`` against the ``webhookevent_once``
    constraint (PostgreSQL; SQLite since 3.35), committed on its own outside a transaction.
    Built once from the model's fields: the ORM's insert compiled for every delivery cost
    a fifth of the receiver's CPU (a profile of 300 deliveries), and an IntegrityError
    needed a transaction and a savepoint around it. True if stored."""
    connection = transaction.get_connection()
    fields = [field for field in WebhookEvent._meta.concrete_fields if not field.primary_key]
    values = [field.get_db_prep_save(field.pre_save(event, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor), values)
        row = cursor.fetchone()
    if row is None:
        return False
    event.pk = row[0]
    event._state.adding, event._state.db = False, connection.alias
    return True


@functools.cache
def _insert_sql(vendor: str) -> str:
    from django.db import connection

    name = connection.ops.quote_name
    meta = WebhookEvent._meta
    columns = [field.column for field in meta.concrete_fields if not field.primary_key]
    return (
        f"INSERT INTO {name(meta.db_table)} ({', '.join(map(name, columns))}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({name('connection_id')}, {name('dedup_key')}) "
        f"WHERE {name('dedup_key')} IS NOT NULL DO NOTHING RETURNING {name(meta.pk.column)}"
    )


def _token_matches(connection: PlatformConnection, url_token: str, now: datetime) -> bool:
    if not url_token:
        return False
    if hmac.compare_digest(url_token.encode(), connection.url_token.encode()):
        return True
    return bool(
        connection.previous_url_token
        and connection.previous_url_token_until
        and connection.previous_url_token_until > now
        and hmac.compare_digest(url_token.encode(), connection.previous_url_token.encode())
    )


def _refuse(
    connection: PlatformConnection,
    client_ip: str | None,
    now: datetime,
    status: int,
    reason: str,
    size: int,
) -> Receipt:
    """Count the refusal; record it (capped) unless the connection is being flooded."""
    _count(_client_key(client_ip, now))
    if _count(_connection_key(connection, now)) > settings.WEBHOOK_REFUSALS_PER_CONNECTION:
        return _too_many(now)
    DeliveryRefusal.objects.create(
        connection=connection,
        received_at=now,
        status=status,
        reason=reason[:200],
        size=max(0, min(size, 2**31 - 1)),
        client_ip=client_ip,
    )
    oldest_kept = (
        DeliveryRefusal.objects.filter(connection=connection)
        .order_by("-id")
        .values_list("id", flat=True)[REFUSALS_KEPT - 1 : REFUSALS_KEPT]
    )
    DeliveryRefusal.objects.filter(connection=connection, id__lt=oldest_kept).delete()
    detail = {
        401: f"Delivery refused: {reason}.",
        413: f"Delivery refused: {reason}.",
    }[status]
    return Receipt(status, detail)


def _too_many(now: datetime) -> Receipt:
    retry = WINDOW_SECONDS - int(now.timestamp()) % WINDOW_SECONDS
    return Receipt(429, "Too many refused deliveries; try again later.", retry_after=retry)


def _window(now: datetime) -> int:
    return int(now.timestamp()) // WINDOW_SECONDS


def _client_key(client_ip: str | None, now: datetime) -> str:
    return f"webhook-refusals:client:{client_ip or '-'}:{_window(now)}"


def _connection_key(connection: PlatformConnection, now: datetime) -> str:
    return f"webhook-refusals:connection:{connection.pk}:{_window(now)}"


def _refusals_and_cached_connection(
    client_key: str, slug: str
) -> tuple[int, PlatformConnection | None]:
    """The client's refusals in this window and the connection if it is cached
    (``selectors.connection_by_slug``), in one round trip to the cache."""
    connection_key = connection_cache_key(slug)
    try:
        found = cache.get_many([client_key, connection_key]) or {}
    except Exception:  # noqa: BLE001 - an unreachable cache fails open (README)
        return 0, None
    return found.get(client_key) or 0, found.get(connection_key)


def _count(key: str) -> int:
    """Add one to a counter of the current window, atomically (``incr`` in Redis)."""
    try:
        cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
        return cache.incr(key) or 0
    except Exception:  # noqa: BLE001 - an unreachable cache fails open (README)
        return 0
