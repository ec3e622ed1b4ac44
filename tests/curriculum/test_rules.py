"""The curriculum rules read from the database, their cache and their version."""

from __future__ import annotations

import dataclasses
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from curriculum.models import Key, Level, Module, Track
from curriculum.rules import CurriculumRules, curriculum_digest
from curriculum.selectors import curriculum_rules

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def test_the_loader_sets_the_version_to_the_digest_of_the_contents():
    rules = curriculum_rules(fresh=True)
    assert rules.version == curriculum_digest(rules)
    assert len(rules.version) == 16
    # Reading it again gives the same version; so does the cached copy.
    assert curriculum_rules(fresh=True).version == rules.version
    assert curriculum_rules().version == rules.version


def test_the_version_ignores_the_order_of_mappings():
    rules = curriculum_rules(fresh=True)
    reordered = dataclasses.replace(
        rules,
        level_names=dict(reversed(list(rules.level_names.items()))),
        tracks=dict(reversed(list(rules.tracks.items()))),
        module_titles=dict(reversed(list(rules.module_titles.items()))),
    )
    assert list(reordered.tracks) != list(rules.tracks)
    assert curriculum_digest(reordered) == rules.version


def test_the_version_is_the_same_in_another_process():
    """No per-process salt (string hashing) in the digest: a new process with another
    hash seed computes the same version from the same database rows."""
    rules = curriculum_rules(fresh=True)
    script = (
        "import pickle, sys\n"
        "from curriculum.rules import curriculum_digest\n"
        "print(curriculum_digest(pickle.loads(sys.stdin.buffer.read())))\n"
    )
    for seed in ("1", "2"):
        result = subprocess.run(
            [sys.executable, "-c", script],
            input=pickle.dumps(dataclasses.replace(rules, version="")),
            capture_output=True,
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert result.stdout.decode().strip() == rules.version


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda: Level.objects.filter(number=2).update(name="Coping"), id="level"),
        pytest.param(
            lambda: Track.objects.filter(slug="engineer").update(graduation_threshold="0.90"),
            id="threshold",
        ),
        pytest.param(
            lambda: Module.objects.filter(number=1).update(title="Tokens, briefly"), id="module"
        ),
        pytest.param(
            lambda: Key.objects.filter(pk=Key.objects.order_by("pk").first().pk).update(
                text="something else entirely"
            ),
            id="key",
        ),
        pytest.param(
            lambda: Key.objects.filter(modules__isnull=False).first().modules.clear(),
            id="key-modules",
        ),
    ],
)
def test_any_edit_the_rules_carry_changes_the_version(edit):
    before = curriculum_rules(fresh=True)
    edit()
    after = curriculum_rules(fresh=True)
    assert after != before
    assert after.version != before.version


def test_an_admin_save_drops_the_cached_rules():
    cached = curriculum_rules()
    level = Level.objects.get(number=2)
    level.name = "Coping"
    level.save()
    rules = curriculum_rules()
    assert rules.level_name(2) == "Coping"
    assert rules.version != cached.version


def test_rules_built_by_hand_have_no_version_until_asked():
    rules = CurriculumRules(level_names={1: "Struggling"}, tracks={})
    assert rules.version == ""
    assert rules.with_version().version == curriculum_digest(rules) != ""
