"""Migration learners 0010: learners placed before placements were history rows (at level 1,
the default, no row was written) get their "Started at" row, at the level they started at."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.test import Client
from django.utils import timezone

from learners.models import Learner, LevelChange
from tests.factories import LearnerFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("learners.migrations.0010_placement_rows_for_earlier_learners")


def _placed_long_ago(level: int = 1) -> Learner:
    learner = LearnerFactory(engineer=True)
    placed = timezone.now() - timedelta(days=90)
    Learner.objects.filter(pk=learner.pk).update(
        placed_at=placed, assessment_submitted_at=placed, level=level
    )
    learner.refresh_from_db()
    return learner


def test_earlier_learners_get_their_started_at_row_and_no_one_gets_two():
    quiet = _placed_long_ago()  # level 1 since their self-assessment: no row at all
    moved = _placed_long_ago(level=2)
    LevelChange.objects.create(
        learner=moved, from_level=1, to_level=2, changed_at=timezone.now() - timedelta(days=9)
    )
    kept = _placed_long_ago(level=2)
    LevelChange.objects.create(
        learner=kept, from_level=None, to_level=2, changed_at=kept.placed_at, reasons=["x"]
    )
    never = LearnerFactory(engineer=True)  # never placed: nothing to add
    Learner.objects.filter(pk=never.pk).update(placed_at=None)
    versions = dict(Learner.objects.values_list("pk", "version"))

    migration.add_placement_rows(apps, None)
    migration.add_placement_rows(apps, None)  # again: nothing twice

    def starts(learner):
        return list(
            LevelChange.objects.filter(learner=learner, from_level=None).values_list(
                "to_level", "changed_at"
            )
        )

    assert starts(quiet) == [(1, quiet.placed_at)]
    assert starts(moved) == [(1, moved.placed_at)]  # where the first move took them from
    assert starts(kept) == [(2, kept.placed_at)]
    assert starts(never) == []
    after = dict(Learner.objects.values_list("pk", "version"))
    assert after[quiet.pk] > versions[quiet.pk]  # the cached page is drawn again
    assert after[kept.pk] == versions[kept.pk]

    client = Client()
    client.force_login(quiet.user)
    page = client.get("/progress/").text
    assert "You started at <strong>Struggling</strong>" in page
