"""The instructors' dashboard: figures, the links behind them, bounded queries."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from curriculum.models import Module, Track
from learners.models import LevelChange, ModuleProgress
from learners.nudges.models import Nudge
from learners.nudges.selectors import nudge_figures
from learners.selectors import dashboard_figures
from tests.factories import LearnerFactory, UserFactory

DASHBOARD = "/admin/dashboard/"


@pytest.fixture
def instructor_client(client, db):
    user = UserFactory(email="instructor@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name="Instructors"))
    client.force_login(user)
    return client


@pytest.fixture
def cohort_of_learners(db):
    """Engineers at levels 1, 2, 2, 3 (one of the 2s inactive), a founder at 4."""
    now = timezone.now()
    long_ago = now - timedelta(days=40)
    one = LearnerFactory(engineer=True, level=1, last_activity_at=now)
    two = LearnerFactory(engineer=True, level=2, last_activity_at=now)
    idle = LearnerFactory(engineer=True, level=2, last_activity_at=now - timedelta(days=15))
    three = LearnerFactory(engineer=True, level=3, last_activity_at=now)
    founder = LearnerFactory(founder=True, level=4, created_at=long_ago)  # never active
    LearnerFactory(last_activity_at=now)  # no track yet
    first, fourth = Module.objects.get(number=1), Module.objects.get(number=4)
    for learner in (two, idle, three):
        ModuleProgress.objects.create(learner=learner, module=first)
    ModuleProgress.objects.create(learner=three, module=fourth)
    ModuleProgress.objects.create(learner=founder, module=first)
    LevelChange.objects.create(learner=two, from_level=1, to_level=2, changed_at=now)
    LevelChange.objects.create(learner=three, from_level=2, to_level=3, changed_at=now)
    LevelChange.objects.create(learner=idle, from_level=3, to_level=2, changed_at=now)
    LevelChange.objects.create(learner=one, from_level=1, to_level=2, changed_at=long_ago)
    Nudge.objects.create(learner=one, kind="next_step", dedup_key="a", status="sent")
    Nudge.objects.create(learner=two, kind="next_step", dedup_key="a", status="sent")
    Nudge.objects.create(learner=idle, kind="next_step", dedup_key="a", status="failed")
    Nudge.objects.create(learner=three, kind="welcome", dedup_key="a", status="sent")
    Nudge.objects.create(
        learner=founder, kind="welcome", dedup_key="old", status="sent", created_at=long_ago
    )
    return {"one": one, "two": two, "idle": idle, "three": three, "founder": founder}


def test_dashboard_figures(cohort_of_learners):
    figures = dashboard_figures()
    engineer, founder = (
        next(t for t in figures.tracks if t.slug == slug) for slug in ("engineer", "founder")
    )
    assert [(f.level, f.learners) for f in engineer.levels] == [(4, 0), (3, 1), (2, 2), (1, 1)]
    assert [(f.level, f.learners) for f in founder.levels] == [(4, 1), (3, 0), (2, 0), (1, 0)]
    assert (engineer.learners, engineer.inactive, founder.inactive) == (4, 1, 1)
    assert figures.without_track == 1
    completions = {m.number: m.completed for m in engineer.modules}
    assert (completions[1], completions[4], completions[9]) == (3, 1, 0)
    assert (engineer.level_ups, engineer.level_downs, engineer.learners_changed) == (2, 1, 3)
    assert (founder.level_ups, founder.level_downs) == (0, 0)
    assert {(n.kind, n.status, n.count) for n in nudge_figures(figures.now)} == {
        ("next_step", "sent", 2),
        ("next_step", "failed", 1),
        ("welcome", "sent", 1),
    }


def _links(html: str) -> dict[str, str]:
    """The dashboard's links to the learner list: href -> the number it shows."""
    pattern = r'<a[^>]*href="(/admin/learners/learner/\?[^"]+)"[^>]*>\s*([\d,]+)'
    return {unescape(href): text for href, text in re.findall(pattern, html)}


def test_every_figure_links_to_the_learners_it_counts(instructor_client, cohort_of_learners):
    response = instructor_client.get(DASHBOARD)
    assert response.status_code == 200
    links = _links(response.content.decode())
    assert len(links) >= 2 * (4 + 4 + 9 + 3) + 3  # tiers, inactive, modules, figures, nudges
    for href, shown in links.items():
        listing = instructor_client.get(href)
        assert listing.status_code == 200, href
        assert listing.context["cl"].result_count == int(shown.replace(",", "")), href


def test_dashboard_queries_do_not_grow_with_learners(
    instructor_client, cohort_of_learners, django_assert_max_num_queries
):
    instructor_client.get(DASHBOARD)
    engineer = Track.objects.get(slug="engineer")
    with django_assert_max_num_queries(12) as few:
        instructor_client.get(DASHBOARD)
    for _ in range(30):
        learner = LearnerFactory(track=engineer, level=2)
        ModuleProgress.objects.create(learner=learner, module=Module.objects.get(number=2))
        Nudge.objects.create(learner=learner, kind="welcome", dedup_key="x")
    with django_assert_max_num_queries(12) as many:
        instructor_client.get(DASHBOARD)
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_admin_index_links_the_dashboard(instructor_client):
    response = instructor_client.get("/admin/")
    assert 'href="/admin/dashboard/"' in response.content.decode()


def test_staff_without_learner_access_cannot_see_the_dashboard(client, db):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(DASHBOARD).status_code == 403
