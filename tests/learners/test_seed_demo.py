"""seed_demo: demo accounts that can log in, demo students on every level, bulk learners."""

from __future__ import annotations

import io
import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from learners.models import Learner, User
from learners.selectors import learner_placement

pytestmark = pytest.mark.django_db

DEMO_LEVELS = {
    "new.student@example.com": (None, 1),
    "struggling.engineer@example.com": ("engineer", 1),
    "surviving.engineer@example.com": ("engineer", 2),
    "thriving.engineer@example.com": ("engineer", 3),
    "driving.engineer@example.com": ("engineer", 4),
    "struggling.founder@example.com": ("founder", 1),
    "surviving.founder@example.com": ("founder", 2),
    "thriving.founder@example.com": ("founder", 3),
    "driving.founder@example.com": ("founder", 4),
}


def seed(learners: int) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--learners", str(learners), stdout=out, stderr=io.StringIO())
    return out.getvalue()


def printed_password(output: str, email: str) -> str:
    return re.search(rf"{re.escape(email)}\s+(\S+)", output).group(1)


def test_demo_admin_and_instructor_can_log_in_with_the_printed_credentials(curriculum, client):
    instructors, _ = Group.objects.get_or_create(name="Instructors")
    output = seed(5)

    admin = User.objects.get(email="admin@example.com")
    assert admin.is_superuser and admin.is_staff
    instructor = User.objects.get(email="instructor@example.com")
    assert instructor.is_staff and not instructor.is_superuser
    assert list(instructor.groups.all()) == [instructors]
    for user in (admin, instructor):
        assert EmailAddress.objects.filter(user=user, verified=True, primary=True).exists()
        assert not Learner.objects.filter(user=user).exists()
    # DEBUG is off in tests, so the passwords are random, and printed.
    password = printed_password(output, "admin@example.com")
    assert password != "pyramid-demo"
    assert client.login(email="admin@example.com", password=password)
    assert client.get("/admin/").status_code == 200


def test_demo_students_stand_on_every_level_of_both_tracks_by_real_progress(curriculum):
    seed(0)

    learners = Learner.objects.select_related("user", "track").filter(user__email__in=DEMO_LEVELS)
    found = {
        learner.user.email: (learner.track.slug if learner.track else None, learner.level)
        for learner in learners
    }
    assert found == DEMO_LEVELS
    for learner in learners:
        placement = learner_placement(learner)
        assert placement.level == learner.level
        if learner.user.email == "thriving.engineer@example.com":
            # Placed at Surviving by the profile, moved up by modules 4-6 and keys.
            assert placement.profile_level == 2
            assert any("so you advanced to Thriving" in r for r in placement.reasons)
        if learner.user.email == "thriving.founder@example.com":
            # Revenue in the Thriving band: the seed's $200K-$1M MRR.
            assert 200_000 <= learner.monthly_recurring_revenue < 1_000_000
        if learner.level == 4:
            # Driving: "all modules mastered" (the document's module alignment).
            assert learner.module_progress.count() == 9
        # Placed, not moved: no level-up email for demo data.
        assert not learner.nudges.filter(kind="level_up").exists()
        placements = learner.level_changes.filter(from_level__isnull=True).count()
        assert placements == (1 if learner.has_assessment else 0)
        assert EmailAddress.objects.filter(user=learner.user, verified=True).exists()


def test_synthetic_learners_are_spread_and_placed(curriculum):
    seed(120)

    synthetic = Learner.objects.filter(user__email__startswith="synthetic-").select_related(
        "track", "user"
    )
    assert synthetic.count() == 120
    assert {learner.track.slug if learner.track else None for learner in synthetic} == {
        "engineer",
        "founder",
        None,
    }
    assert {learner.level for learner in synthetic} == {1, 2, 3, 4}
    assert len({learner.timezone for learner in synthetic}) > 5
    assert len({learner.cohort_id for learner in synthetic}) == 4  # three cohorts and none
    assert synthetic.filter(assessment_submitted_at__isnull=True).exists()
    assert synthetic.filter(module_progress__isnull=False).distinct().count() > 30
    assert synthetic.filter(key_completions__isnull=False).distinct().count() > 30
    assert not any(learner.user.has_usable_password() for learner in synthetic)
    for learner in synthetic:
        assert learner_placement(learner).level == learner.level


def test_running_twice_adds_only_missing_synthetic_learners(curriculum):
    first = seed(10)
    second = seed(10)
    third = seed(15)

    assert "Created 9 demo students and 10 synthetic learners" in first
    assert "Created 0 demo students and 0 synthetic learners" in second
    assert "admin@example.com                  (exists, password unchanged)" in second
    assert "Created 0 demo students and 5 synthetic learners" in third
    assert User.objects.filter(email__startswith="synthetic-").count() == 15


def test_running_without_an_instructors_group_still_works(curriculum):
    Group.objects.filter(name="Instructors").delete()

    seed(0)

    assert User.objects.get(email="instructor@example.com").groups.count() == 0


def test_synthetic_learners_are_written_in_bulk(curriculum):
    seed(1)  # the demo accounts and cohorts, created one by one, out of the way

    def queries(count: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            seed(count)
        return len(ctx.captured_queries)

    many = 150  # about 1,500 key completions: one insert batch on PostgreSQL
    few_queries = queries(1 + 10)
    many_queries = queries(1 + 10 + many)

    if connection.features.max_query_params is None:
        assert many_queries == few_queries
    else:
        # SQLite caps a bulk insert at 999 parameters, so more rows cost more insert
        # batches (about one per ten learners), still far from a query per learner.
        assert many_queries - few_queries < many / 4
