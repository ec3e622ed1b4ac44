"""Beat task: retention pruning (the work is in ``services.retention_prune``)."""

from __future__ import annotations

from celery import shared_task

from .services import retention_prune


@shared_task(name="privacy.prune", ignore_result=True)
def retention_prune_task() -> dict[str, int]:
    return {what: pruned.deleted for what, pruned in retention_prune().items()}
