"""Celery tasks: take ids, call one service, own only the retries."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from celery.exceptions import Retry
from django.conf import settings

from . import task_names
from .services import handoff, sending, sweep


class ChunkLeftPending(Exception):  # noqa: N818 - a state to retry, not an error
    """Some of the chunk's nudges met a temporary failure (the SMTP server down or
    answering 4xx) and are pending again: Celery runs the chunk again after a backoff (its
    rows sent meanwhile are no longer pending and are left alone)."""


@shared_task(
    bind=True,
    name=task_names.SEND_CHUNK,
    acks_late=True,
    autoretry_for=(ChunkLeftPending,),
    max_retries=sending.MAX_ATTEMPTS,
    # Celery's exponential backoff: base, 2 x base, 4 x base ... seconds (whole seconds, at
    # least 1), no jitter (one chunk per task), read when the worker loads the task.
    retry_backoff=settings.NUDGE_RETRY_BASE_SECONDS,
    retry_backoff_max=settings.NUDGE_RETRY_BASE_SECONDS * 2**sending.MAX_ATTEMPTS,
    retry_jitter=False,
)
def nudges_send_chunk(self, nudge_ids: list[int], at: str | None = None) -> dict | Retry:
    """``at`` (ISO-8601): send as of that moment (a sweep rehearsed with ``send_nudges --at``)."""
    now = datetime.fromisoformat(at) if at else None
    report = sending.nudges_send(nudge_ids=nudge_ids, now=now)
    if report.retry_ids and self.request.retries < self.max_retries:
        if self.request.is_eager:
            # In-process (no broker): Celery's eager apply runs a returned retry at once,
            # where a raised one would reach the caller (eager errors propagate here).
            return self.retry(throw=False)
        raise ChunkLeftPending(report.retry_ids)
    return {"sent": report.sent, "skipped": report.skipped, "failed": report.failed}


@shared_task(name=task_names.SWEEP)
def nudges_sweep() -> dict:
    report = sweep.nudges_sweep()
    return {"learners": report.learners, "chunks": report.chunks, "handed": report.handed}


@shared_task(name=task_names.HAND_PENDING)
def nudges_hand_pending() -> int:
    return handoff.nudges_hand_pending()
