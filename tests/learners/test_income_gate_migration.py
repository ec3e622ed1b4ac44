"""Migrating to the income gates (curriculum 0003, learners 0006): the gates are read from the
success metrics' texts, and a learner whom progress had lifted across a gate their figure does
not meet moves down, with the reason in their level history."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from curriculum.models import SuccessMetric
from curriculum.selectors import curriculum_rules_forget
from learners.models import Learner, LevelChange

BEFORE_THE_GATES = [
    ("curriculum", "0002_load_curriculum"),
    ("learners", "0005_nudge_to_nudges_app"),
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _founder_who_did_everything(apps, email: str, mrr: int, level: int):
    User = apps.get_model("learners", "User")
    Learner = apps.get_model("learners", "Learner")
    Track = apps.get_model("curriculum", "Track")
    Module = apps.get_model("curriculum", "Module")
    Key = apps.get_model("curriculum", "Key")
    ModuleProgress = apps.get_model("learners", "ModuleProgress")
    KeyCompletion = apps.get_model("learners", "KeyCompletion")
    founder = Track.objects.get(slug="founder")
    learner = Learner.objects.create(
        user=User.objects.create(email=email, password="!"),
        track=founder,
        assessment_submitted_at=timezone.now(),
        monthly_recurring_revenue=mrr,
        owns_model_weights=False,
        replicable_by_competitors=True,
        investor_fundable=False,
        level=level,
    )
    for module in Module.objects.all():
        ModuleProgress.objects.create(learner=learner, module=module)
    for key in Key.objects.filter(track=founder, modules__isnull=True):
        KeyCompletion.objects.create(learner=learner, key=key)
    return learner.pk


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_learners_lifted_across_a_gate_they_do_not_meet_move_down_with_the_reason():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        old = _migrate(BEFORE_THE_GATES)
        assert "gate_amount" not in {
            f.name for f in old.get_model("curriculum", "SuccessMetric")._meta.get_fields()
        }
        # Under the old rule both were at Driving by progress alone.
        zero = _founder_who_did_everything(old, "zero-mrr@example.com", 0, 4)
        rich = _founder_who_did_everything(old, "rich@example.com", 1_200_000, 4)
    finally:
        _migrate(latest)
        curriculum_rules_forget()

    gates = dict(
        SuccessMetric.objects.filter(gate_amount__isnull=False).values_list("text", "gate_amount")
    )
    assert gates == {
        "Earned $200K-$300K salary": 200_000,
        "Earning $300K-$600K+ salary": 300_000,
        "Reached $50K-$200K MRR": 50_000,
        "Scaled to $1M+ MRR ($12M+ ARR)": 1_000_000,
    }
    assert Learner.objects.get(pk=zero).level == 1
    # Their moves (learners 0010 also gives each a "Started at" row: from no level).
    change = LevelChange.objects.get(learner_id=zero, from_level__isnull=False)
    assert (change.from_level, change.to_level) == (4, 1)
    assert any(
        "Surviving also needs your monthly recurring revenue to be $50,000 or more" in reason
        for reason in change.reasons
    )
    assert Learner.objects.get(pk=rich).level == 4
    assert not LevelChange.objects.filter(learner_id=rich, from_level__isnull=False).exists()
