"""The curriculum in the database matches the client's framework document."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from curriculum.models import (
    Key,
    Level,
    Module,
    SelfAssessmentQuestion,
    Stage,
    SuccessMetric,
    Symptom,
    Track,
    TrackLevel,
)
from curriculum.seed import SEED_PATH, SeedError, parse

pytestmark = pytest.mark.django_db

SHARED_SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "profit-pyramid.md"


@pytest.mark.skipif(not SHARED_SEED.exists(), reason="../shared/seed is not beside the checkout")
def test_bundled_document_is_the_clients_document():
    assert SEED_PATH.read_bytes() == SHARED_SEED.read_bytes()


def test_tracks_and_levels():
    assert list(Track.objects.values_list("slug", "name", "currency_metric")) == [
        ("engineer", "Production-Ready AI Engineers", "annual total compensation"),
        ("founder", "Technical Founders / CTOs", "monthly recurring revenue"),
    ]
    assert list(Level.objects.values_list("number", "name", "description")) == [
        (1, "Struggling", "Starting point, maximum pain"),
        (2, "Surviving", "Getting by, but not thriving"),
        (3, "Thriving", "Doing well, ready to scale"),
        (4, "Driving", "Elite level, leading the field"),
    ]
    assert all(str(t) for t in Track.objects.all())
    assert {str(t.graduation_threshold) for t in Track.objects.all()} == {"0.80"}


@pytest.mark.parametrize(
    ("slug", "bands"),
    [
        (
            "engineer",
            [(1, 0, 150_000), (2, 150_000, 200_000), (3, 200_000, 300_000), (4, 300_000, None)],
        ),
        (
            "founder",
            [(1, 0, 50_000), (2, 50_000, 200_000), (3, 200_000, 1_000_000), (4, 1_000_000, None)],
        ),
    ],
)
def test_bands(slug, bands):
    rows = TrackLevel.objects.filter(track__slug=slug).order_by("level__number")
    assert [(r.level.number, r.min_amount, r.max_amount) for r in rows] == bands


@pytest.mark.parametrize(
    ("slug", "keys", "symptoms"),
    [
        ("engineer", [10, 12, 13, 13], [12, 13, 12, 12]),
        ("founder", [10, 12, 13, 14], [13, 14, 13, 16]),
    ],
)
def test_counts_per_level(slug, keys, symptoms):
    for level, (n_keys, n_symptoms) in enumerate(zip(keys, symptoms, strict=True), start=1):
        key_codes = list(
            Key.objects.filter(track__slug=slug, level__number=level).values_list("code", flat=True)
        )
        assert key_codes == [f"{slug}-{level}-{n:02d}" for n in range(1, n_keys + 1)]
        assert Symptom.objects.filter(track__slug=slug, level__number=level).count() == n_symptoms


def test_97_keys_with_verbs_and_known_texts():
    assert Key.objects.count() == 97
    first = Key.objects.get(code="engineer-1-01")
    assert first.verb == "Learn"
    assert first.text.startswith("fundamentals of production frontier AI")
    last = Key.objects.get(code="founder-4-14")
    assert last.full_text == "Maintain technological edge over API-dependent competitors"
    assert not Key.objects.filter(verb="").exists()


def test_nested_symptoms_of_founder_driving():
    nested = Symptom.objects.filter(track__slug="founder", level__number=4, depth=1)
    assert list(nested.values_list("text", flat=True)) == [
        "Complete data privacy and sovereignty",
        "Unlimited usage without variable costs",
        "Custom models for each enterprise customer",
        "Capabilities that don't exist in general APIs",
    ]


def test_modules_and_stages():
    assert list(Module.objects.values_list("number", "title")) == [
        (1, "Memory Optimization"),
        (2, "Multi-head Latent Attention (MLA)"),
        (3, "Mixture of Experts (MoE) foundations"),
        (4, "Multi-Token Prediction (MTP)"),
        (5, "FP8 training and inference"),
        (6, "Training pipelines and parallelization"),
        (7, "Alignment (SFT, RLHF, DPO)"),
        (8, "Knowledge distillation"),
        (9, "Production deployment and serving"),
    ]
    stages = [
        (s.name, s.serves_level.number, [m.number for m in s.modules.all()], len(s.bullets))
        for s in Stage.objects.all()
    ]
    assert stages == [
        ("Foundation", 1, [1, 2, 3], 3),
        ("Implementation", 2, [4, 5, 6], 3),
        ("Mastery", 3, [7, 8, 9], 3),
    ]


def test_complete_modules_keys_are_linked_to_exactly_those_modules():
    linked = Key.objects.filter(modules__isnull=False).distinct()
    assert linked.count() == 6
    for key in linked:
        first, last = map(int, re.search(r"Modules (\d+)-(\d+)", key.text).groups())
        assert key.verb == "Complete"
        assert sorted(m.number for m in key.modules.all()) == list(range(first, last + 1))
    unlinked = Key.objects.filter(modules__isnull=True)
    assert not any(re.search(r"Modules \d+-\d+", k.text) for k in unlinked if k.verb == "Complete")


def test_targeting_success_metrics_and_questions():
    struggling = Level.objects.get(number=1)
    # The "Focus" line's two alternative headlines, apart and without quotes.
    assert struggling.headline_a == "Start your production frontier AI career"
    assert struggling.headline_b == "Build your first MoE system"
    assert struggling.offer == "Free webinar, intro pricing ($497-$997 self-paced)"
    assert all(
        lvl.headline_a and lvl.headline_b and lvl.pain and lvl.promise and lvl.offer
        for lvl in Level.objects.all()
    )
    for slug in ("engineer", "founder"):
        for from_level in (1, 2, 3):
            assert (
                SuccessMetric.objects.filter(
                    track__slug=slug, from_level__number=from_level
                ).count()
                == 4
            )
        assert SelfAssessmentQuestion.objects.filter(track__slug=slug).count() == 5
    summary = TrackLevel.objects.get(track__slug="engineer", level__number=1)
    assert summary.self_assessment_summary.startswith("Salary <$150K")


def test_load_curriculum_is_idempotent_and_keeps_edits_unless_reset():
    track = Track.objects.get(slug="engineer")
    track.name = "Edited by an instructor"
    track.save()
    key = Key.objects.get(code="engineer-1-06")
    key.modules.set(Module.objects.filter(number=1))
    counts = {m: m.objects.count() for m in (Key, Symptom, Module, TrackLevel, SuccessMetric)}

    out = StringIO()
    call_command("load_curriculum", stdout=out)
    assert "0 created, 0 updated" in out.getvalue()
    assert {m: m.objects.count() for m in counts} == counts
    assert Track.objects.get(slug="engineer").name == "Edited by an instructor"
    assert [m.number for m in key.modules.all()] == [1]

    call_command("load_curriculum", "--reset", stdout=StringIO())
    assert Track.objects.get(slug="engineer").name == "Production-Ready AI Engineers"
    assert sorted(m.number for m in key.modules.all()) == [1, 2, 3]


def test_load_curriculum_recreates_deleted_rows():
    Key.objects.filter(code="founder-4-14").delete()
    call_command("load_curriculum", stdout=StringIO())
    assert Key.objects.filter(code="founder-4-14").exists()


def test_load_curriculum_reports_an_unreadable_document(tmp_path):
    bad = tmp_path / "bad.md"
    bad.write_text("# Nothing here\n")
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Cannot read the curriculum"):
        call_command("load_curriculum", "--seed", str(bad))
    assert Key.objects.count() == 97


def test_parser_rejects_a_document_without_tracks():
    with pytest.raises(SeedError):
        parse("1. **Struggling** - x\n\n## SOMETHING ELSE\n")
