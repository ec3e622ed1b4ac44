"""Receivers of the curriculum's signal (connected in ``learners.apps``)."""

from __future__ import annotations

from collections.abc import Sequence

from .broker import task_hand_on_commit
from .models import Learner
from .tasks import recompute_learners_task


def recompute_on_placement_rules_changed(
    sender, *, track_ids: Sequence[int] = (), everyone: bool = False, **kwargs
) -> int:
    """A curriculum edit changed placement: recompute the learners it affects once the edit
    is committed. Returns how many learners that is."""
    if everyone:
        task_hand_on_commit(recompute_learners_task, everyone=True)
        return Learner.objects.count()
    for track_id in track_ids:
        task_hand_on_commit(recompute_learners_task, track_id=track_id)
    return Learner.objects.filter(track_id__in=track_ids).count()
