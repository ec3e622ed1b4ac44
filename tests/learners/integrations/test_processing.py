"""Settling stored events a batch at a time: a fixed number of statements per batch, one bad
completion isolated from the others, a batch claimed by one worker only."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from curriculum.models import Module
from learners.integrations.models import (
    EventStatus,
    ModuleMapping,
    PlatformConnection,
    WebhookEvent,
)
from learners.integrations.services import processing
from learners.models import ModuleProgress
from tests.factories import LearnerFactory

pytestmark = pytest.mark.django_db

MODULES = (1, 2, 3)


@pytest.fixture
def standard():
    connection = PlatformConnection.objects.create(
        name="Platform", slug="platform", kind="standard", secrets="whsec_c2VjcmV0"
    )
    for number in MODULES:
        ModuleMapping.objects.create(
            connection=connection,
            course_id="c",
            lesson_id=f"l{number}",
            module=Module.objects.get(number=number),
        )
    return connection


def stored(connection, email: str, number: int, event_id: str) -> WebhookEvent:
    """An event as the receiver stores it (Standard Webhooks: ``webhook-id`` header)."""
    body = json.dumps(
        {
            "type": "lesson.completed",
            "timestamp": "2026-06-01T10:00:00Z",
            "data": {"email": email, "course_id": "c", "lesson_id": f"l{number}"},
        }
    ).encode()
    return WebhookEvent.objects.create(
        connection=connection,
        body=body,
        headers={"webhook-id": event_id},
        event_id=event_id,
        dedup_key=event_id,
    )


def cohort(connection, prefix: str, learners: int) -> list[int]:
    """``learners`` learners, each completing the three mapped modules: 3 events each."""
    ids = []
    for n in range(learners):
        email = f"{prefix}{n}@example.com"
        LearnerFactory(engineer=True, user__email=email)
        ids += [stored(connection, email, number, f"{prefix}{n}-{number}").pk for number in MODULES]
    return ids


def test_a_batch_costs_the_same_statements_whatever_its_size(standard):
    """Each learner is recomputed once per batch, not once per event, and its completions
    written in one insert: 12 events of 4 learners and 24 events of 8 learners cost the
    same statements (the old one-event-at-a-time path ran 15 per event: 180 and 360)."""
    processing.webhook_events_process(event_ids=cohort(standard, "warm", 1))  # caches filled
    small, large = cohort(standard, "small", 4), cohort(standard, "large", 8)
    with CaptureQueriesContext(connection) as small_queries:
        assert set(processing.webhook_events_process(event_ids=small).values()) == {"processed"}
    with CaptureQueriesContext(connection) as large_queries:
        assert set(processing.webhook_events_process(event_ids=large).values()) == {"processed"}
    assert len(small_queries) == len(large_queries) <= 16, [
        q["sql"][:80] for q in large_queries.captured_queries
    ]
    assert ModuleProgress.objects.filter(source="platform").count() == 3 * 13


def test_one_completion_that_cannot_be_written_fails_alone(standard, monkeypatch):
    """The batch's write fails; its completions are written again one at a time, each on
    its own savepoint: the one that fails again is FAILED, the others processed."""
    ids = cohort(standard, "c", 3)
    bad = LearnerFactory._meta.model.objects.get(user__email="c1@example.com")

    def batch_fails(completions):
        raise RuntimeError("the batch's insert failed")

    one = processing.module_set_done

    def one_fails_for_bad(*, learner, **options):
        if learner.pk == bad.pk:
            raise RuntimeError("this learner's row is broken")
        return one(learner=learner, **options)

    monkeypatch.setattr(processing, "_completions_write", batch_fails)
    monkeypatch.setattr(processing, "module_set_done", one_fails_for_bad)
    statuses = processing.webhook_events_process(event_ids=ids)
    failed = {pk for pk, status in statuses.items() if status == EventStatus.FAILED}
    assert failed == set(
        WebhookEvent.objects.filter(email="c1@example.com").values_list("pk", flat=True)
    )
    assert sorted(statuses.values()).count(EventStatus.PROCESSED) == 6
    assert not ModuleProgress.objects.filter(learner=bad).exists()
    assert ModuleProgress.objects.count() == 6
    note = WebhookEvent.objects.filter(status=EventStatus.FAILED).first().note
    assert note == "RuntimeError: this learner's row is broken"


def test_a_claimed_batch_is_settled_once(standard):
    """A second claim finds nothing to do once the first batch is settled (a task whose
    events another batch took is a no-op), and the claim takes the oldest first."""
    ids = cohort(standard, "x", 3)
    first = processing.webhook_events_process_received(batch_size=5)
    assert first == {"processed": 5}
    assert processing.webhook_events_process_received(batch_size=5) == {"processed": 4}
    assert processing.webhook_events_process_received(batch_size=5) == {}
    settled = WebhookEvent.objects.filter(pk__in=ids[:5]).values_list("status", flat=True)
    assert set(settled) == {"processed"}
    assert ModuleProgress.objects.count() == 9


def test_the_receivers_cached_connection_follows_every_change():
    """The receiver reads its connection from the cache (selectors.connection_by_slug): a new
    secret, a new slug, a deactivation, a queryset update and a deletion apply from the next
    delivery."""
    from learners.integrations.selectors import connection_by_slug
    from learners.integrations.services.connections import connection_set_secrets

    platform = PlatformConnection.objects.create(
        name="Platform", slug="cached", kind="thinkific", secrets="old-secret"
    )
    assert connection_by_slug("cached").secret_list == ["old-secret"]  # now cached
    connection_set_secrets(connection=platform, new_secret="new-secret", keep_current=False)
    assert connection_by_slug("cached").secret_list == ["new-secret"]
    platform.slug = "renamed"
    platform.save()
    assert connection_by_slug("cached") is None
    assert connection_by_slug("renamed").pk == platform.pk
    platform.is_active = False
    platform.save()
    assert connection_by_slug("renamed") is None
    platform.is_active = True
    platform.save()
    assert connection_by_slug("renamed").pk == platform.pk
    PlatformConnection.objects.filter(pk=platform.pk).update(secrets="updated")
    assert connection_by_slug("renamed").secret_list == ["updated"]
    platform.delete()
    assert connection_by_slug("renamed") is None
