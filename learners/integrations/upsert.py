"""A learner upserted by email through the API, with the roster's parsing and validation."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from ..models import Learner, account_change_allowed
from ..roster.columns import COLUMNS
from ..roster.parse import CurriculumIndex, RowParser, users_by_email
from ..roster.plan import plan_rows
from ..roster.write import write_plans
from ..services import learners_recompute, learners_touch
from .services.replay import webhook_events_replay_for

# Completions are written by their own endpoints (source "api", with the key).
NOT_UPSERTED = ("completed_modules", "completed_keys")


class UpsertInvalid(Exception):
    """The values are not a valid learner; ``errors`` by field, nothing written."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid learner")
        self.errors = errors


@dataclass(frozen=True)
class Upserted:
    learner: Learner
    created: bool
    changes: list[str]


def learner_upsert(*, values: dict[str, str]) -> Upserted:
    """Create or update the learner with ``values["email"]``: the roster's columns as text
    (blank keeps the current value, as in an import). Staff and superuser accounts are
    never changed. Raises ``UpsertInvalid`` (nothing written)."""
    cells = {column: str(values.get(column, "") or "").strip() for column in COLUMNS}
    for column in NOT_UPSERTED:
        cells[column] = ""
    email = cells["email"].lower()
    users = users_by_email({email}) if email else {}
    user = users.get(email)
    if not account_change_allowed(account=user, actor=None):
        raise UpsertInvalid({"email": ["This is a staff account; the API does not change it."]})
    curriculum = CurriculumIndex()
    row, found = RowParser(curriculum, users).parse(1, cells)
    if row is None:
        errors: dict[str, list[str]] = {}
        for error in found:
            errors.setdefault(error.column, []).append(error.message)
        raise UpsertInvalid(errors)
    plans, new_cohorts = plan_rows([row], users)
    plan = plans[0]
    with transaction.atomic():
        learner_ids = write_plans(plans, new_cohorts, curriculum, recorded_by=None)
        if learner_ids:
            learners_touch(learner_ids=learner_ids)
            learners_recompute(learner_ids=learner_ids)
        created = plan.action == "create"
        if created:
            webhook_events_replay_for(emails=[email])
    learner = Learner.objects.select_related("user", "track", "cohort").get(pk=plan.learner.pk)
    return Upserted(learner=learner, created=created, changes=plan.changes)
