"""On the real Redis (``NUDGES_REDIS_URL`` or ``REDIS_URL``) with a real Celery worker and a
real SMTP server: what production does, end to end."""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connections
from django.test import Client
from django.utils import timezone

from curriculum.models import Track
from learners.nudges.models import Nudge, NudgeStatus
from learners.nudges.services.handoff import nudges_hand_pending
from learners.nudges.services.sweep import nudges_sweep
from learners.services import learner_set_assessment
from tests.factories import engineer_answers

from .conftest import broker, free_port, make_learner

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    # The worker sends as of the real clock: at night, default quiet hours would defer all.
    pytest.mark.usefixtures("no_quiet_hours"),
]

NOW = datetime(2026, 6, 10, 9, 15, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=30)


def _close_worker_connections(**kwargs):
    # The worker runs in a thread with its own database connection; close it after each task
    # so that nothing holds the test database open.
    connections.close_all()


@contextmanager
def worker(app):
    if connections["default"].vendor == "sqlite":
        # The worker's threads write while the test reads: SQLite's shared in-memory test
        # database answers "database table is locked".
        pytest.skip("a worker beside the test needs PostgreSQL (set DATABASE_URL)")
    task_postrun.connect(_close_worker_connections, dispatch_uid="nudges-test-close-db")
    app.control.purge()  # nothing left over from an earlier run
    try:
        with start_worker(app, perform_ping_check=False, shutdown_timeout=20):
            yield
    finally:
        task_postrun.disconnect(dispatch_uid="nudges-test-close-db")


def wait_for(condition, *, timeout: float = 30.0) -> None:
    """Poll until the worker has done its part (bounded; the worker is asynchronous)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the worker did not finish in time")
        time.sleep(0.05)


def sent_count(**filters) -> int:
    return Nudge.objects.filter(status=NudgeStatus.SENT, **filters).count()


def test_a_sweep_through_redis_delivers_and_unsubscribe_stops_the_next(
    redis_broker_url, smtp_server
):
    stays = make_learner(created_at=LONG_AGO, last_activity_at=LONG_AGO)
    leaves = make_learner(created_at=LONG_AGO, last_activity_at=LONG_AGO)
    unassessed = make_learner(
        engineer=False, created_at=NOW - timedelta(days=3), last_activity_at=None
    )

    with broker(redis_broker_url) as app, worker(app):
        report = nudges_sweep(now=NOW)
        assert report.handed == 1 and report.not_handed == 0
        wait_for(lambda: sent_count() == 3)

        assert smtp_server.recipients() == sorted(
            learner.user.email for learner in (stays, leaves, unassessed)
        )
        for message in smtp_server.messages:
            unsubscribe = message["List-Unsubscribe"].strip()
            assert unsubscribe.startswith("<https://pyramid.test/nudges/unsubscribe/")
            assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            assert message.get_content_type() == "multipart/alternative"
            assert message.get_body(("plain",)).get_content().strip()
            assert "<html" in message.get_body(("html",)).get_content()

        # The one-click POST a mail provider makes: no session, no CSRF token.
        url = smtp_server.to(leaves.user.email)[0]["List-Unsubscribe"].strip()[1:-1]
        response = Client(enforce_csrf_checks=True).post(
            url.removeprefix("https://pyramid.test"),
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200

        next_week = NOW + timedelta(days=7)
        nudges_sweep(now=next_week)
        wait_for(lambda: sent_count(learner=stays) == 2)

    assert len(smtp_server.to(stays.user.email)) == 2
    assert len(smtp_server.to(leaves.user.email)) == 1
    assert len(smtp_server.to(unassessed.user.email)) == 1
    assert len(smtp_server.messages) == 4


def test_redis_down_at_level_up_the_call_succeeds_and_the_pass_sends_it_later(
    redis_broker_url, smtp_server
):
    # Placed already (a founder at Struggling): the engineer's self-assessment moves them up.
    learner = make_learner(engineer=False, placed_at=timezone.now())
    answers = engineer_answers()
    closed = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with broker(closed):
        result = learner_set_assessment(
            learner=learner, track=Track.objects.get(slug="engineer"), answers=answers
        )
    assert result.went_up
    nudge = Nudge.objects.get(learner=learner)
    assert (nudge.kind, nudge.status, nudge.handed_at) == ("level_up", "pending", None)
    assert smtp_server.messages == []

    # Redis is back: the frequent pass hands it.
    with broker(redis_broker_url) as app, worker(app):
        assert nudges_hand_pending(now=timezone.now() + timedelta(minutes=2)) == 1
        wait_for(lambda: sent_count() == 1)
        assert nudges_hand_pending(now=timezone.now() + timedelta(minutes=2)) == 0

    [message] = smtp_server.to(learner.user.email)
    assert message["Subject"].startswith(f"You reached Level {result.placement.level}")


def test_smtp_refusing_once_is_retried_by_the_worker_after_a_backoff(
    redis_broker_url, smtp_server, settings
):
    learner = make_learner(created_at=LONG_AGO, last_activity_at=LONG_AGO)
    smtp_server.refuse = 1
    with broker(redis_broker_url) as app, worker(app):
        nudges_sweep(now=NOW)
        wait_for(lambda: sent_count() == 1)
    nudge = Nudge.objects.get(learner=learner)
    assert (nudge.attempts, smtp_server.refused, len(smtp_server.messages)) == (2, 1, 1)
