"""Webhook events under the data rules: pruned by age with the nudge ledger, in bounded
batches, and scrubbed when the person they name (without a learner) is erased."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from learners.integrations.models import (
    DeliveryRefusal,
    EventStatus,
    PlatformConnection,
    WebhookEvent,
)
from learners.nudges.models import Nudge
from learners.privacy.services import account_erase, webhook_events_prune
from learners.privacy.tasks import retention_prune_task
from tests.factories import LearnerFactory

pytestmark = pytest.mark.django_db

EMAIL = "erased.person@example.com"


@pytest.fixture
def connection():
    return PlatformConnection.objects.create(
        name="Thinkific", slug="thinkific", kind="thinkific", secrets="s3cret-" * 4
    )


def event(connection, *, email="", received_at=None, **fields) -> WebhookEvent:
    body = json.dumps({"payload": {"user": {"email": email}}}).encode()
    return WebhookEvent.objects.create(
        connection=connection,
        event_id=fields.pop("event_id", f"evt-{WebhookEvent.objects.count()}"),
        topic="lesson.completed",
        status=fields.pop("status", EventStatus.UNMATCHED),
        received_at=received_at or timezone.now(),
        body=body,
        headers={"X-Thinkific-Webhook-Email": email} if email else {},
        email=email,
        **fields,
    )


def test_old_webhook_events_are_pruned_in_bounded_batches(connection, settings):
    settings.WEBHOOK_RETENTION_DAYS = 548
    now = timezone.now()
    for _ in range(5):
        event(connection, received_at=now - timedelta(days=549))
    recent = event(connection, received_at=now - timedelta(days=547))

    first = webhook_events_prune(now=now, batch_size=2, max_batches=2)
    assert (first.deleted, first.more) == (4, True)
    second = webhook_events_prune(now=now, batch_size=2, max_batches=10)
    assert (second.deleted, second.more) == (1, False)
    assert list(WebhookEvent.objects.values_list("pk", flat=True)) == [recent.pk]


def test_the_daily_task_prunes_the_ledger_and_the_events(connection, settings):
    settings.NUDGE_RETENTION_DAYS = 30
    settings.WEBHOOK_RETENTION_DAYS = 60
    now = timezone.now()
    learner = LearnerFactory()
    Nudge.objects.create(
        learner=learner, kind="next_step", dedup_key="old", created_at=now - timedelta(days=31)
    )
    Nudge.objects.create(learner=learner, kind="next_step", dedup_key="new", created_at=now)
    event(connection, received_at=now - timedelta(days=61))
    kept = event(connection, received_at=now - timedelta(days=31))

    result = retention_prune_task.apply().get()

    assert result == {"nudges": 1, "webhook_events": 1}
    assert list(Nudge.objects.values_list("dedup_key", flat=True)) == ["new"]
    assert list(WebhookEvent.objects.values_list("pk", flat=True)) == [kept.pk]


def test_erasure_scrubs_unmatched_events_that_name_the_address(connection):
    learner = LearnerFactory(user__email=EMAIL)
    unmatched = event(connection, email=EMAIL.upper(), event_id="evt-unmatched")
    failed = event(connection, email=EMAIL, status=EventStatus.FAILED, note=f"no {EMAIL}")
    matched = event(connection, email=EMAIL, status=EventStatus.PROCESSED, learner=learner)
    other = event(connection, email="someone.else@example.com")

    account_erase(user=learner.user)

    for scrubbed in (unmatched, failed):
        scrubbed.refresh_from_db()
        assert (scrubbed.email, bytes(scrubbed.body), scrubbed.headers) == ("", b"", {})
        assert scrubbed.note == "(erased)"
    # What names no one stays: the delivery happened, and its id still stops a redelivery.
    assert unmatched.event_id == "evt-unmatched" and unmatched.status == EventStatus.UNMATCHED
    assert not WebhookEvent.objects.filter(pk=matched.pk).exists()
    other.refresh_from_db()
    assert other.email == "someone.else@example.com" and b"someone.else" in bytes(other.body)
    stored = [bytes(b) for b in WebhookEvent.objects.values_list("body", flat=True)]
    assert not any(EMAIL.encode() in body.lower() for body in stored)


def test_erasure_leaves_the_address_in_no_column_of_any_event(connection):
    """Every kind of event that can name a person: processed, unmatched, unmapped,
    duplicate, failed (an unreadable body holding the address), refused before bodies
    stopped being kept, and a long address; then every column of every event and refusal
    is searched."""
    long_address = ("erased." * 30)[:230] + "@example.com"
    learner = LearnerFactory(user__email=EMAIL)
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=learner.user, email=long_address, verified=True)
    event(connection, email=EMAIL, status=EventStatus.PROCESSED, learner=learner)
    event(connection, email=EMAIL.upper(), status=EventStatus.UNMATCHED)
    event(connection, email=EMAIL, status=EventStatus.UNMAPPED, note=f"for {EMAIL}")
    event(connection, email=EMAIL, status=EventStatus.DUPLICATE)
    event(connection, email=long_address, status=EventStatus.UNMATCHED)
    WebhookEvent.objects.create(
        connection=connection,
        status=EventStatus.FAILED,
        body=f"not json but names {EMAIL.upper()}".encode(),
        note="the body is not JSON",
    )
    WebhookEvent.objects.create(
        connection=connection,
        status=EventStatus.REJECTED,
        body=json.dumps({"payload": {"user": {"email": long_address}}}).encode(),
        note="the signature does not match",
    )
    DeliveryRefusal.objects.create(connection=connection, status=401, reason="unsigned", size=9)

    account_erase(user=learner.user)

    for model in (WebhookEvent, DeliveryRefusal):
        for row in model.objects.all():
            for field in model._meta.concrete_fields:
                value = field.value_from_object(row)
                text = (
                    bytes(value).decode("utf-8", "replace")
                    if isinstance(value, bytes | memoryview)
                    else json.dumps(value, default=str)
                ).lower()
                for address in (EMAIL, long_address):
                    assert address not in text, (model.__name__, row.pk, field.name)
