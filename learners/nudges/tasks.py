"""Celery tasks: take ids, call one service, own only the retries."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.conf import settings

from .services import handoff, sending, sweep


def retry_countdown(retries: int) -> float:
    """Exponential backoff: base, 2 x base, 4 x base ... seconds."""
    return settings.NUDGE_RETRY_BASE_SECONDS * 2**retries


@shared_task(bind=True, name="nudges.send_chunk", acks_late=True, max_retries=sending.MAX_ATTEMPTS)
def nudges_send_chunk(self, nudge_ids: list[int], at: str | None = None) -> dict:
    """``at`` (ISO-8601): send as of that moment (a sweep rehearsed with ``send_nudges --at``)."""
    now = datetime.fromisoformat(at) if at else None
    report = sending.nudges_send(nudge_ids=nudge_ids, now=now)
    totals = {"sent": report.sent, "skipped": report.skipped, "failed": report.failed}
    if self.request.is_eager:
        # No broker (the embedded default): retry in place, without waiting. (Celery's own
        # eager retry raises ``Retry`` into the caller when eager errors propagate.)
        retries = 0
        while report.retry_ids and retries < self.max_retries:
            retries += 1
            report = sending.nudges_send(nudge_ids=report.retry_ids, now=now)
            totals["sent"] += report.sent
            totals["skipped"] += report.skipped
            totals["failed"] += report.failed
        return totals
    if report.retry_ids and self.request.retries < self.max_retries:
        raise self.retry(
            args=(report.retry_ids, at), countdown=retry_countdown(self.request.retries)
        )
    return totals


@shared_task(name="nudges.sweep")
def nudges_sweep() -> dict:
    report = sweep.nudges_sweep()
    return {"learners": report.learners, "chunks": report.chunks, "handed": report.handed}


@shared_task(name="nudges.hand_pending")
def nudges_hand_pending() -> int:
    return handoff.nudges_hand_pending()
