"""Learner services: profile, progress and recomputing levels against the database."""

from __future__ import annotations

import random
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from curriculum.models import Key, Module, Track, TrackLevel
from curriculum.selectors import curriculum_rules
from learners.models import KeyCompletion, Learner, LevelChange, ModuleProgress, User
from learners.selectors import learner_placement
from learners.services import (
    key_set_done,
    learner_create,
    learner_recompute_level,
    learner_set_assessment,
    learners_recompute,
    module_set_done,
)
from tests.factories import LearnerFactory, engineer_answers

pytestmark = pytest.mark.django_db


def test_set_assessment_places_and_records_history(curriculum):
    learner = LearnerFactory()
    result = learner_set_assessment(
        learner=learner, track=Track.objects.get(slug="engineer"), answers=engineer_answers()
    )
    learner.refresh_from_db()
    assert (learner.level, result.placement.level) == (2, 2)
    # Where the learner starts: a placement, never a move up.
    assert result.placed and not result.went_up
    assert learner.placed_at is not None
    change = LevelChange.objects.get(learner=learner)
    assert (change.from_level, change.to_level) == (None, 2)
    assert change.reasons[0].startswith("Your annual total compensation of $160,000")
    # Saving the same answers again changes nothing and writes no history.
    again = learner_set_assessment(
        learner=learner, track=Track.objects.get(slug="engineer"), answers=engineer_answers()
    )
    assert again.change is None
    assert LevelChange.objects.filter(learner=learner).count() == 1


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        (engineer_answers(can_explain_concepts=None), "can_explain_concepts"),
        (engineer_answers(seen_as=""), "seen_as"),
        (engineer_answers(monthly_recurring_revenue=10), "monthly_recurring_revenue"),
    ],
)
def test_set_assessment_rejects_incomplete_or_foreign_answers(curriculum, answers, field):
    learner = LearnerFactory()
    with pytest.raises(ValidationError) as info:
        learner_set_assessment(
            learner=learner, track=Track.objects.get(slug="engineer"), answers=answers
        )
    assert field in info.value.message_dict
    learner.refresh_from_db()
    assert learner.track is None and learner.assessment_submitted_at is None
    assert not LevelChange.objects.exists()


def test_set_assessment_rejects_bad_time_zone_and_saves_nothing(curriculum):
    learner = LearnerFactory()
    with pytest.raises(ValidationError) as info:
        learner_set_assessment(
            learner=learner,
            track=Track.objects.get(slug="engineer"),
            answers=engineer_answers(),
            timezone_name="Mars/Olympus",
        )
    assert "timezone" in info.value.message_dict
    learner.refresh_from_db()
    assert learner.timezone == "UTC" and learner.track is None


def test_progress_moves_the_level_up_and_back_down(curriculum):
    # $210,000 meets the Surviving -> Thriving income gate; the answers say Surviving.
    learner = LearnerFactory(engineer=True, can_explain_concepts=True, annual_compensation=210_000)
    learner_recompute_level(learner=learner)
    assert learner.level == 2
    for number in (4, 5, 6):
        module_set_done(learner=learner, module=Module.objects.get(number=number), done=True)
    keys = Key.objects.filter(track__slug="engineer", level__number=2, modules__isnull=True)
    results = [key_set_done(learner=learner, key=key, done=True) for key in keys[:9]]
    assert [r.went_up for r in results] == [False] * 8 + [True]
    assert Learner.objects.get(pk=learner.pk).level == 3
    # Ticking twice never makes two rows.
    key_set_done(learner=learner, key=keys[0], done=True)
    assert KeyCompletion.objects.filter(learner=learner, key=keys[0]).count() == 1
    # Unticking drops the learner back; history keeps both changes.
    result = key_set_done(learner=learner, key=keys[0], done=False)
    assert result.change is not None and not result.went_up
    assert list(
        LevelChange.objects.filter(learner=learner).values_list("from_level", "to_level")
    ) == [
        (3, 2),
        (2, 3),
        (None, 2),  # the placement: where they started
    ]


def test_keys_of_another_track_or_linked_to_modules_cannot_be_ticked(curriculum):
    learner = LearnerFactory(engineer=True)
    with pytest.raises(ValidationError):
        key_set_done(learner=learner, key=Key.objects.get(code="founder-1-01"), done=True)
    with pytest.raises(ValidationError):
        key_set_done(learner=learner, key=Key.objects.get(code="engineer-1-06"), done=True)
    assert not KeyCompletion.objects.exists()


def test_learner_create_gives_an_unusable_password(curriculum):
    learner = learner_create(email="New.Person@Example.com", first_name="New")
    user = User.objects.get(pk=learner.user_id)
    assert user.email == "new.person@example.com"
    assert not user.has_usable_password()


def make_learners(n: int) -> list[Learner]:
    """n engineers with random answers and progress, written in bulk."""
    rng = random.Random(n)
    engineer = Track.objects.get(slug="engineer")
    users = User.objects.bulk_create([User(email=f"bulk{i}@example.com") for i in range(n)])
    from django.utils import timezone

    learners = Learner.objects.bulk_create(
        [
            Learner(
                user=u,
                track=engineer,
                assessment_submitted_at=timezone.now(),
                annual_compensation=rng.choice([None, 90_000, 160_000, 250_000, 400_000]),
                can_explain_concepts=rng.random() < 0.6,
                can_implement_from_scratch=rng.random() < 0.4,
                deployed_at_scale=rng.random() < 0.2,
                seen_as=rng.choice(["architect", "integrator"]),
                leads_initiatives=rng.random() < 0.2,
            )
            for u in users
        ]
    )
    modules = list(Module.objects.all())
    keys = list(Key.objects.filter(track=engineer, modules__isnull=True))
    ModuleProgress.objects.bulk_create(
        [
            ModuleProgress(learner=lr, module=m)
            for lr in learners
            for m in modules
            if rng.random() < 0.5
        ]
    )
    KeyCompletion.objects.bulk_create(
        [KeyCompletion(learner=lr, key=k) for lr in learners for k in keys if rng.random() < 0.6]
    )
    return learners


def test_recompute_everyone_matches_one_by_one_and_writes_only_changes(curriculum):
    learners = make_learners(60)
    report = learners_recompute(chunk_size=25)
    assert (report.learners, report.chunks) == (60, 3)
    assert report.changed == LevelChange.objects.count() > 0
    # The rule applied to each learner alone, read-only, gives the levels the bulk run wrote.
    rules = curriculum_rules(fresh=True)
    expected = {
        learner.pk: learner_placement(learner, rules).level
        for learner in Learner.objects.select_related("track")
    }
    assert dict(Learner.objects.values_list("pk", "level")) == expected
    assert len(set(expected.values())) > 1, "the population should span several levels"
    assert {learner.pk for learner in learners} == set(expected)
    # Nothing changed since: a second run writes nothing.
    assert learners_recompute(chunk_size=25).changed == 0
    assert report.changed == LevelChange.objects.count()


def test_recompute_queries_grow_with_chunks_not_learners(curriculum):
    make_learners(40)
    counts = {}
    for n in (20, 40):
        with CaptureQueriesContext(connection) as ctx:
            learners_recompute(
                learner_ids=Learner.objects.order_by("pk").values_list("pk", flat=True)[:n],
                chunk_size=20,
            )
        counts[n] = len(ctx.captured_queries)
    per_chunk = counts[40] - counts[20]
    assert per_chunk <= 8
    assert counts[40] < 40  # far fewer queries than learners


def test_editing_a_band_moves_learners_on_recompute(curriculum):
    learner = LearnerFactory(engineer=True, annual_compensation=160_000, can_explain_concepts=True)
    learners_recompute()
    assert Learner.objects.get(pk=learner.pk).level == 2
    TrackLevel.objects.filter(track__slug="engineer", level__number=1).update(max_amount=170_000)
    TrackLevel.objects.filter(track__slug="engineer", level__number=2).update(min_amount=170_000)
    learners_recompute()
    assert Learner.objects.get(pk=learner.pk).level == 1


def test_recompute_levels_command(curriculum):
    make_learners(5)
    out = StringIO()
    call_command("recompute_levels", stdout=out)
    assert "Recomputed 5 learners in 1 chunks" in out.getvalue()


def test_bulk_recompute_queues_one_level_up_nudge_per_level_reached(curriculum):
    from allauth.account.models import EmailAddress

    from learners.nudges.models import Nudge

    verified = LearnerFactory(engineer=True, annual_compensation=160_000, can_explain_concepts=True)
    EmailAddress.objects.create(
        user=verified.user, email=verified.user.email, verified=True, primary=True
    )
    unverified = LearnerFactory(
        engineer=True, annual_compensation=160_000, can_explain_concepts=True
    )
    # The first recompute places them (no email: a placement is not a level-up) ...
    learners_recompute()
    assert not Nudge.objects.exists()
    assert Learner.objects.get(pk=verified.pk).placed_at is not None
    # ... a real move up after it is one.
    Learner.objects.filter(pk__in=[verified.pk, unverified.pk]).update(level=1)
    learners_recompute()
    assert list(Nudge.objects.values_list("learner_id", "kind", "dedup_key")) == [
        (verified.pk, "level_up", "level-2")
    ]
    # Recomputing again (nothing changed) and a drop then rise to the same level add nothing.
    learners_recompute()
    Learner.objects.filter(pk=verified.pk).update(level=1)
    learners_recompute()
    assert Nudge.objects.filter(learner=verified).count() == 1
    assert not Nudge.objects.filter(learner=unverified).exists()
