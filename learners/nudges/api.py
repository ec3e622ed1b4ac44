"""The nudges app's one door: what the rest of ``learners`` may use of it.

The core (its services, selectors' callers, the admin, the roster) and the other apps (privacy)
import from nudges only the names below, never a module of nudges itself; nudges reads the core
through ``learners.selectors`` and ``learners.models`` (and the pure rules beneath them). Both
directions are import-linter contracts in ``pyproject.toml``.
"""

from __future__ import annotations

from .models import Nudge, NudgeKind, NudgePreference, NudgeStatus
from .selectors import (
    NUDGE_DAYS,
    LastNudge,
    NudgeFigure,
    last_nudge_by_learner,
    learners_opted_out_themselves,
    nudge_figures,
)
from .services.experiments import experiment_observations_keep
from .services.ledger import nudge_level_up, nudge_placement, nudge_send_now, nudges_level_up_many
from .services.preferences import learner_turn_nudges_on_or_off

__all__ = [
    "NUDGE_DAYS",
    "LastNudge",
    "Nudge",
    "NudgeFigure",
    "NudgeKind",
    "NudgePreference",
    "NudgeStatus",
    "experiment_observations_keep",
    "last_nudge_by_learner",
    "learner_turn_nudges_on_or_off",
    "learners_opted_out_themselves",
    "nudge_figures",
    "nudge_level_up",
    "nudge_placement",
    "nudge_send_now",
    "nudges_level_up_many",
]
