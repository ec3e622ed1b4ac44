"""The receiver with a real Celery worker on Redis: answered once stored, processed by the
worker, a duplicate processed once."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from curriculum.models import Module
from learners.integrations.models import (
    EventStatus,
    ModuleMapping,
    PlatformConnection,
    WebhookEvent,
)
from learners.models import ModuleProgress
from tests.factories import LearnerFactory
from tests.learners.nudges.conftest import broker
from tests.learners.nudges.test_worker import wait_for, worker

from .test_webhooks import THINKIFIC_SECRET, post, thinkific_lesson, thinkific_sign

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_worker_processes_each_event_once(live_server, redis_broker_url):
    learner = LearnerFactory(engineer=True, user__email="ada@example.com")
    connection = PlatformConnection.objects.create(
        name="Thinkific", slug="thinkific", kind="thinkific", secrets=THINKIFIC_SECRET
    )
    ModuleMapping.objects.create(
        connection=connection, course_id="77", lesson_id="501", module=Module.objects.get(number=2)
    )
    url = f"{live_server.url}/webhooks/thinkific/"
    body = thinkific_lesson("w1", "ada@example.com")
    with broker(redis_broker_url) as app, worker(app):
        first = post(url, body, thinkific_sign(body))
        second = post(url, body, thinkific_sign(body))
        assert first[0] == second[0] == 202
        wait_for(lambda: WebhookEvent.objects.filter(status=EventStatus.PROCESSED).count() == 1)
    assert ModuleProgress.objects.get(learner=learner).module.number == 2
    assert sorted(WebhookEvent.objects.values_list("status", flat=True)) == [
        "duplicate",
        "processed",
    ]


def test_a_worker_completes_the_module_of_an_unsigned_teachable_array(
    live_server, redis_broker_url
):
    """The Teachable fixture (platform_payloads/SOURCES.md) to the token URL, unsigned as
    Teachable sends it, processed by a real worker; its redelivery is recorded once."""
    from pathlib import Path

    learner = LearnerFactory(engineer=True, user__email="learner@example.com")
    connection = PlatformConnection.objects.create(
        name="Teachable", slug="school", kind="teachable"
    )
    ModuleMapping.objects.create(
        connection=connection,
        course_id="2966495",
        lesson_id="65421249",
        module=Module.objects.get(number=4),
    )
    url = f"{live_server.url}/webhooks/school/{connection.url_token}/"
    body = (
        Path(__file__).parent
        / "platform_payloads"
        / "teachable_lecture_progress_created_array.json"
    ).read_bytes()
    with broker(redis_broker_url) as app, worker(app):
        assert post(url, body, {})[0] == 202
        assert post(url, body, {})[0] == 202
        wait_for(lambda: WebhookEvent.objects.filter(status=EventStatus.PROCESSED).count() == 1)
    assert ModuleProgress.objects.get(learner=learner).module.number == 4
    assert sorted(WebhookEvent.objects.values_list("status", flat=True)) == [
        "duplicate",
        "processed",
    ]


def test_a_worker_settles_a_cohort_in_batches_each_event_once(
    live_server, redis_broker_url, monkeypatch
):
    """30 lesson completions (10 learners x 3 modules), 5 of them delivered twice, one
    malformed delivery refused at the door and one stored event the worker cannot read, in
    batches of 7: each good event processed and its completion written exactly once, the
    unreadable one FAILED alone, nothing left waiting. The tasks queued before the worker
    started are purged (as a broker losing them would): the frequent pass hands the
    events again."""
    from learners.integrations.services import processing
    from learners.integrations.services.replay import webhook_events_hand_received

    monkeypatch.setattr(processing, "BATCH_SIZE", 7)
    applied: dict[tuple[int, int], int] = {}
    batches: list[int] = []
    write = processing._completions_write

    def counted(completions):
        write(completions)
        batches.append(len(completions))
        for completion in completions:
            key = (completion.learner_id, completion.module.number)
            applied[key] = applied.get(key, 0) + 1

    monkeypatch.setattr(processing, "_completions_write", counted)
    learners = [
        LearnerFactory(engineer=True, user__email=f"learner{n}@example.com") for n in range(10)
    ]
    connection = PlatformConnection.objects.create(
        name="Thinkific", slug="thinkific", kind="thinkific", secrets=THINKIFIC_SECRET
    )
    for lesson, number in ((501, 1), (502, 2), (503, 3)):
        ModuleMapping.objects.create(
            connection=connection,
            course_id="77",
            lesson_id=str(lesson),
            module=Module.objects.get(number=number),
        )
    url = f"{live_server.url}/webhooks/thinkific/"
    bodies = [
        thinkific_lesson(f"w{n}-{lesson}", f"learner{n}@example.com", lesson=lesson)
        for n in range(10)
        for lesson in (501, 502, 503)
    ]
    with broker(redis_broker_url) as app:
        for body in bodies + bodies[::6]:
            assert post(url, body, thinkific_sign(body))[0] == 202
        malformed = b'{"id": "w-bad", "resource": "lesson"'
        assert post(url, malformed, thinkific_sign(malformed))[0] == 400
        unreadable = WebhookEvent.objects.create(
            connection=connection, body=b"not json", headers={}, event_id="w-unreadable"
        )
        with worker(app):  # purges the tasks queued so far
            webhook_events_hand_received(now=timezone.now() + timedelta(minutes=5))
            wait_for(lambda: not WebhookEvent.objects.filter(status=EventStatus.RECEIVED).exists())
            time.sleep(0.5)  # anything handed twice would run now
    statuses = Counter(WebhookEvent.objects.values_list("status", flat=True))
    assert statuses == {"processed": 30, "duplicate": 5, "failed": 2}
    assert applied == {(learner.pk, number): 1 for learner in learners for number in (1, 2, 3)}
    assert max(batches) <= 7 and len(batches) < 30  # written in batches, not one by one
    assert ModuleProgress.objects.filter(source="platform").count() == 30
    unreadable.refresh_from_db()
    assert unreadable.status == EventStatus.FAILED and "JSON" in unreadable.note
