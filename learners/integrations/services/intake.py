"""Receiving a webhook delivery: refuse strangers cheaply, store what is authenticated.

Nothing an unauthenticated sender writes is stored: a refused delivery leaves at most a
small ``DeliveryRefusal`` (why, when, size, client IP; ``REFUSALS_KEPT`` per connection),
and refusals are counted per client and per connection in the shared cache, so a flood is
answered 429 before its body is read. Bodies over ``platforms.MAX_BODY_BYTES`` get 413
before they are read. An authenticated delivery becomes one event per item it holds,
each handed to a worker once stored.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from .. import platforms
from ..models import DeliveryRefusal, EventStatus, PlatformConnection, WebhookEvent
from ..selectors import connection_by_slug
from ..tasks import webhook_events_process_task

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
    if _over(_client_key(client_ip, now), settings.WEBHOOK_REFUSALS_PER_CLIENT):
        return _too_many(now)
    connection = connection_by_slug(slug)
    if connection is None:
        _count(_client_key(client_ip, now))
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
    fresh = [event.pk for event in events if event.status == EventStatus.RECEIVED]
    if fresh:
        try:
            webhook_events_process_task.delay_on_commit(fresh)
        except OperationalError:
            # Stored, but the broker is down: the frequent pass hands them once it is back.
            logger.exception("webhook events %s stored but not handed to a worker", fresh)
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
    try:
        with transaction.atomic():
            event.dedup_key = delivery.event_id
            event.save()
    except IntegrityError:
        event.pk, event.dedup_key = None, None
        event.status = EventStatus.DUPLICATE
        event.note = f"event {delivery.event_id} was already received"
        event.save()
    return event


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


def _over(key: str, limit: int) -> bool:
    try:
        return (cache.get(key) or 0) >= limit
    except Exception:  # noqa: BLE001 - an unreachable cache fails open (README)
        return False


def _count(key: str) -> int:
    """Add one to a counter of the current window, atomically (``incr`` in Redis)."""
    try:
        cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
        return cache.incr(key) or 0
    except Exception:  # noqa: BLE001 - an unreachable cache fails open (README)
        return 0
