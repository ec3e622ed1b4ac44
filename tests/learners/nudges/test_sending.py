"""Sending against a real SMTP server: retries, failures, interrupted sends, two workers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from celery.utils.time import get_exponential_backoff_interval
from django.core.mail.backends.smtp import EmailBackend
from django.db import connections

from learners.nudges.models import Nudge, NudgeStatus
from learners.nudges.services.handoff import nudges_hand_pending
from learners.nudges.services.sending import MAX_ATTEMPTS, nudges_send
from learners.nudges.services.sweep import nudges_sweep
from learners.nudges.tasks import ChunkLeftPending, nudges_send_chunk

from .conftest import free_port, make_learner

NOW = datetime(2026, 6, 10, 9, 15, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=30)


# Tests of sending, not of experiments: no learner held out.
pytestmark = pytest.mark.usefixtures("no_holdout", "no_quiet_hours")


def pending_nudges(n: int) -> list[int]:
    """``n`` due next_step rows, decided by a sweep and not yet handed to a worker."""
    for _ in range(n):
        make_learner(created_at=LONG_AGO, last_activity_at=LONG_AGO)
    nudges_sweep(now=NOW)  # the commit hooks are not played here: the rows wait
    ids = list(Nudge.objects.order_by("pk").values_list("pk", flat=True))
    assert len(ids) == n
    return ids


@pytest.mark.django_db
def test_smtp_refusing_then_accepting_is_retried_and_sent_once(smtp_server):
    [nudge_id] = pending_nudges(1)
    smtp_server.refuse = 2

    nudges_send_chunk.apply(args=[[nudge_id]])  # in-process: retries run at once

    assert smtp_server.refused == 2
    assert len(smtp_server.messages) == 1
    nudge = Nudge.objects.get()
    assert (nudge.status, nudge.attempts) == (NudgeStatus.SENT, 3)
    assert nudge.sent_at is not None and nudge.last_error == ""


@pytest.mark.django_db
def test_smtp_refusing_every_time_ends_failed_with_the_error(smtp_server):
    ids = pending_nudges(2)
    smtp_server.refuse = 1000

    nudges_send_chunk.apply(args=[ids])

    assert smtp_server.messages == []
    assert smtp_server.refused == 2 * MAX_ATTEMPTS
    for nudge in Nudge.objects.all():
        assert (nudge.status, nudge.attempts) == (NudgeStatus.FAILED, MAX_ATTEMPTS)
        assert "451" in nudge.last_error
    # A failed row is not picked up again.
    assert nudges_hand_pending(now=NOW + timedelta(days=1)) == 0


@pytest.mark.django_db
def test_one_refused_message_does_not_hold_back_the_rest_of_the_chunk(smtp_server):
    ids = pending_nudges(3)
    smtp_server.refuse = 1
    report = nudges_send(nudge_ids=ids)
    assert (report.sent, report.retry_ids) == (2, [ids[0]])
    assert Nudge.objects.get(pk=ids[0]).status == NudgeStatus.PENDING
    assert nudges_send(nudge_ids=ids).sent == 1
    assert len(smtp_server.messages) == 3


@pytest.mark.django_db
def test_smtp_server_down_counts_an_attempt_and_asks_for_a_retry(settings, smtp_server):
    ids = pending_nudges(2)
    settings.EMAIL_PORT = free_port()  # nothing listens there
    report = nudges_send(nudge_ids=ids)
    assert report.retry_ids == ids and report.sent == 0
    assert set(Nudge.objects.values_list("status", "attempts")) == {(NudgeStatus.PENDING, 1)}
    assert "Connection refused" in Nudge.objects.first().last_error


def test_retries_are_celerys_exponential_backoff_from_the_setting(settings):
    task = nudges_send_chunk
    base = settings.NUDGE_RETRY_BASE_SECONDS
    assert (task.autoretry_for, task.max_retries, task.retry_jitter) == (
        (ChunkLeftPending,),
        MAX_ATTEMPTS,
        False,
    )
    # What Celery waits before each retry (celery.app.autoretry).
    waits = [
        get_exponential_backoff_interval(int(task.retry_backoff), n, task.retry_backoff_max)
        for n in range(MAX_ATTEMPTS)
    ]
    assert waits == [base * 2**n for n in range(MAX_ATTEMPTS)]


class WorkerDiesAfterTheServerAccepts(Exception):
    """Stands for a worker killed between the SMTP server's 250 and the ledger update."""


class DyingEmailBackend(EmailBackend):
    def send_messages(self, email_messages):
        sent = super().send_messages(email_messages)
        raise WorkerDiesAfterTheServerAccepts(sent)


@pytest.mark.django_db
def test_a_send_interrupted_after_the_server_accepted_is_never_sent_again(
    settings, smtp_server, django_capture_on_commit_callbacks
):
    first, *rest = pending_nudges(3)
    settings.EMAIL_BACKEND = f"{__name__}.DyingEmailBackend"
    with pytest.raises(WorkerDiesAfterTheServerAccepts):
        nudges_send(nudge_ids=[first, *rest])
    assert len(smtp_server.messages) == 1
    # The row in flight stays in ``sending``; the rows claimed with it but never handed to
    # the server go back to pending.
    assert Nudge.objects.get(pk=first).status == NudgeStatus.SENDING
    assert set(Nudge.objects.filter(pk__in=rest).values_list("status", "attempts")) == {
        (NudgeStatus.PENDING, 0)
    }

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    # The task redelivered, the frequent pass, the next sweep: the other two go out, the
    # interrupted one is not sent again.
    nudges_send_chunk.apply(args=[[first, *rest]])
    with django_capture_on_commit_callbacks(execute=True):
        assert nudges_hand_pending(now=NOW + timedelta(days=1)) == 0
        nudges_sweep(now=NOW + timedelta(hours=1))
    assert len(smtp_server.messages) == 3
    assert len(set(smtp_server.recipients())) == 3
    # It waits for an instructor.
    assert [n.pk for n in Nudge.objects.filter(status=NudgeStatus.SENDING)] == [first]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(
    connections["default"].vendor == "sqlite",
    reason="two workers writing at once need PostgreSQL: SQLite's shared in-memory test "
    "database refuses a second writer ('database table is locked') instead of waiting",
)
def test_two_workers_on_the_same_chunk_send_one_email_per_learner(smtp_server):
    learners = [make_learner(created_at=LONG_AGO, last_activity_at=LONG_AGO) for _ in range(40)]
    # Committed at once (no test transaction), so the rows are made directly, not handed.
    rows = Nudge.objects.bulk_create(
        [Nudge(learner=learner, kind="next_step", dedup_key="2026-W24") for learner in learners]
    )
    ids = [row.pk for row in rows]
    start = threading.Barrier(2)
    reports = []

    def worker():
        try:
            start.wait(timeout=10)
            reports.append(nudges_send(nudge_ids=ids))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(reports) == 2
    assert sum(report.sent for report in reports) == 40
    assert len(smtp_server.messages) == 40
    assert len(set(smtp_server.recipients())) == 40
    assert set(Nudge.objects.values_list("status", "attempts")) == {(NudgeStatus.SENT, 1)}
