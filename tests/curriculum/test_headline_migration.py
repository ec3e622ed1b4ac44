"""Migrating to the two headlines (curriculum 0005): each level's "Focus" line, as
instructors left it, is split into headline A and headline B; a blank line takes the
document's headlines."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from curriculum.models import Level
from curriculum.seed import headlines
from curriculum.selectors import curriculum_rules_forget

BEFORE = [("curriculum", "0004_module_course_url")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_focus_line_becomes_two_headlines():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        old = _migrate(BEFORE)
        OldLevel = old.get_model("curriculum", "Level")
        OldLevel.objects.filter(number=1).update(
            focus="“Own your stack” or “Ship it this quarter”"  # an instructor's edit
        )
        OldLevel.objects.filter(number=2).update(focus="One headline, no quotes")
        OldLevel.objects.filter(number=3).update(focus="")
    finally:
        _migrate(latest)
        curriculum_rules_forget()

    headlines = {
        level.number: (level.headline_a, level.headline_b) for level in Level.objects.all()
    }
    assert headlines[1] == ("Own your stack", "Ship it this quarter")
    assert headlines[2] == ("One headline, no quotes", "")
    assert headlines[3] == ("Reach elite level", "Build frontier systems at scale")
    assert headlines[4] == ("Maintain your edge", "Pioneer the frontier future")


@pytest.mark.parametrize(
    ("focus", "expected"),
    [
        (
            '"Reach elite level" or "Build frontier systems at scale"',
            ("Reach elite level", "Build frontier systems at scale"),
        ),
        ("“Own your stack” or “Ship it”", ("Own your stack", "Ship it")),
        ("One headline", ("One headline",)),
        ("  ", ()),
    ],
)
def test_a_focus_line_reads_as_its_headlines(focus, expected):
    assert headlines(focus) == expected
