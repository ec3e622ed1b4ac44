"""Reads for the API: learners as an integration sees them."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from ..models import Cohort, Learner
from ..selectors import inactive_since_q
from .models import CONNECTION_CACHE_SECONDS, PlatformConnection, connection_cache_key


def learner_by_email(email: str) -> Learner | None:
    return (
        Learner.objects.select_related("user", "track", "cohort")
        .filter(user__email__iexact=email.strip())
        .first()
    )


def learners_filtered(
    *,
    cohort: str = "",
    track: str = "",
    level: int | None = None,
    active_within_days: int | None = None,
    inactive_days: int | None = None,
    now: datetime | None = None,
) -> QuerySet[Learner]:
    """Learners by cohort name, track slug, level and activity (``active_within_days``:
    active in the last N days; ``inactive_days``: no activity for N days or more)."""
    now = now or timezone.now()
    learners = Learner.objects.select_related("user", "track", "cohort")
    if cohort:
        learners = learners.filter(cohort__name=cohort)
    if track:
        learners = learners.filter(track__slug=track)
    if level is not None:
        learners = learners.filter(level=level)
    if active_within_days is not None:
        learners = learners.filter(last_activity_at__gte=now - timedelta(days=active_within_days))
    if inactive_days is not None:
        learners = learners.filter(inactive_since_q(now - timedelta(days=inactive_days)))
    return learners


def cohort_exists(name: str) -> bool:
    return Cohort.objects.filter(name=name).exists()


def connection_by_slug(slug: str) -> PlatformConnection | None:
    """The active connection, read from the shared cache when it is there (the receiver
    reads it on every delivery; ``models.connections_forget`` drops it on every change)."""
    key = connection_cache_key(slug)
    connection = cache.get(key)
    if connection is None:
        connection = PlatformConnection.objects.filter(slug=slug, is_active=True).first()
        if connection is not None:
            cache.set(key, connection, CONNECTION_CACHE_SECONDS)
    return connection


def connection_webhook_url(connection: PlatformConnection) -> str:
    """The full address a platform sends to, its token included."""
    path = reverse("webhook-token", args=[connection.slug, connection.url_token])
    return f"{settings.SITE_URL}{path}"


def last_delivery_text(connection: PlatformConnection) -> str:
    """The latest delivery, stored or refused, in words."""
    event = connection.events.order_by("-received_at", "-pk").first()
    refusal = connection.refusals.order_by("-received_at", "-pk").first()
    if event is None and refusal is None:
        return "None yet."
    if refusal is not None and (event is None or refusal.received_at > event.received_at):
        when = timezone.localtime(refusal.received_at)
        return f"{when:%d %b %Y %H:%M %Z}: refused ({refusal.status}): {refusal.reason}."
    when = timezone.localtime(event.received_at)
    return f"{when:%d %b %Y %H:%M %Z}: {event.topic or 'event'}: {event.get_status_display()}."
