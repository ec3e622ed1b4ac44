"""The receiver with a real Celery worker on Redis: answered once stored, processed by the
worker, a duplicate processed once."""

from __future__ import annotations

import pytest

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
