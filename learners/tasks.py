"""Celery tasks of the learners app: thin wrappers that take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from .models import Learner
from .services import learners_recompute


@shared_task(acks_late=True)
def recompute_learners_task(
    learner_ids: list[int] | None = None, track_id: int | None = None, everyone: bool = False
) -> dict[str, int]:
    """Recompute the levels of some learners after a curriculum edit.

    Give ``learner_ids``, or ``track_id`` for every learner of a track, or ``everyone``
    (a stage or module mapping changed). Recomputing is idempotent, so a redelivered task is
    harmless.
    """
    if learner_ids is None and track_id is None and not everyone:
        raise ValueError("Say which learners to recompute: learner_ids, track_id or everyone.")
    if learner_ids is None and track_id is not None:
        learner_ids = list(Learner.objects.filter(track_id=track_id).values_list("pk", flat=True))
    report = learners_recompute(learner_ids=learner_ids)
    return {"learners": report.learners, "changed": report.changed, "chunks": report.chunks}


@shared_task(name="learners.insights_refresh")
def insights_refresh_task() -> int:
    """Hourly (beat): every track's insights figures, recomputed into the shared cache."""
    from .insights.refresh import insights_refresh

    return insights_refresh()
