"""Writes to learners, one module per responsibility:

- ``accounts``: ``learner_create``, ``learner_ensure``, ``user_change_email``,
  ``user_set_name``
- ``assessment``: ``learner_set_assessment`` (the self-assessment's one write path),
  ``assessment_check``, ``assessment_apply`` (also used by the roster's bulk writer)
- ``progress``: ``key_set_done``, ``module_set_done``
- ``levels``: ``learner_recompute_level``, ``learners_recompute``, ``learners_touch``

The public services are re-exported here, so callers write ``from learners.services import …``.
"""

from .accounts import learner_create, learner_ensure, user_change_email, user_set_name
from .assessment import assessment_apply, assessment_check, learner_set_assessment
from .levels import (
    Recomputed,
    RecomputeReport,
    learner_recompute_level,
    learners_recompute,
    learners_touch,
)
from .progress import key_set_done, module_set_done

__all__ = [
    "RecomputeReport",
    "Recomputed",
    "assessment_apply",
    "assessment_check",
    "key_set_done",
    "learner_create",
    "learner_ensure",
    "learner_recompute_level",
    "learner_set_assessment",
    "learners_recompute",
    "learners_touch",
    "module_set_done",
    "user_change_email",
    "user_set_name",
]
