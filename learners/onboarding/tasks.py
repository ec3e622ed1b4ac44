"""Celery tasks: take ids, call one service."""

from __future__ import annotations

from celery import shared_task

from .services import invitations_send


@shared_task(name="onboarding.send_invitations", acks_late=True)
def invitations_send_task(invitation_ids: list[int]) -> dict:
    report = invitations_send(invitation_ids=invitation_ids)
    return {"sent": report.sent, "failed": report.failed}
