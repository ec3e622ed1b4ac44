"""Beat task: retention pruning (the work is in ``services.nudges_prune``)."""

from __future__ import annotations

from celery import shared_task

from .services import nudges_prune


@shared_task(name="privacy.prune_nudges", ignore_result=True)
def prune_nudges_task() -> int:
    return nudges_prune().deleted
