"""The insights page on the seeded cohort (tests/learners/insights/conftest.py): every figure
was worked out by hand from the table there."""

from __future__ import annotations

import csv
import io
import zoneinfo
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from learners.insights.selectors import insights_figures
from learners.nudges.models import Nudge
from tests.factories import LearnerFactory, UserFactory

pytestmark = pytest.mark.django_db


def _levels(funnel):
    return [(row.level, row.placed, row.reached, row.median_days) for row in funnel.rows]


def test_the_level_funnel_all_and_by_cohort(seeded):
    insights = insights_figures(track=seeded.track, now=seeded.now)
    # Started: a1 a2 a3 a4 b1 b2 b3 b5 n1 (b4 has no self-assessment).
    assert insights.funnel.started == 9
    # Placed at 1: a1 a2 a4 b1 b2 b3 b5; at 2: a3; at 3: n1.
    # Reached 2: a1 (10 d), a2 (20), b1 (5), b5 (6, a jump 1->3): median 8.
    # Reached 3: a1 (30), a3 (40), b5 (6): median 30. Nobody reached 4.
    assert _levels(insights.funnel) == [
        (1, 7, 0, None),
        (2, 1, 4, 8.0),
        (3, 1, 3, 30.0),
        (4, 0, 0, None),
    ]
    cohorts = {funnel.label: funnel for funnel in insights.cohorts}
    assert list(cohorts) == ["Spring", "Summer", "No cohort"]
    assert _levels(cohorts["Spring"]) == [
        (1, 3, 0, None),
        (2, 1, 2, 15.0),
        (3, 0, 2, 35.0),
        (4, 0, 0, None),
    ]
    assert _levels(cohorts["Summer"]) == [
        (1, 4, 0, None),
        (2, 0, 2, 5.5),
        (3, 0, 1, 6.0),
        (4, 0, 0, None),
    ]
    assert _levels(cohorts["No cohort"]) == [
        (1, 0, 0, None),
        (2, 0, 0, None),
        (3, 1, 0, None),
        (4, 0, 0, None),
    ]


def test_the_module_funnel(seeded):
    insights = insights_figures(track=seeded.track, now=seeded.now)
    # Furthest module: a1 a2 a3 4, a4 2, b1 1, b5 3, b2 b3 n1 none (f1 is a founder).
    assert [(m.number, m.reached, m.finished, m.lost) for m in insights.modules] == [
        (1, 9, 5, None),
        (2, 6, 4, 3),
        (3, 5, 3, 1),
        (4, 4, 3, 1),
        (5, 3, 0, 1),
        (6, 0, 0, 3),
        (7, 0, 0, 0),
        (8, 0, 0, 0),
        (9, 0, 0, 0),
    ]


def test_stuck_points_at_risk_and_never_started(seeded):
    insights = insights_figures(track=seeded.track, now=seeded.now)
    # Inactive 14+ days with something done: a1 a2 (after M4), a4 (M2), b1 (M1), b2 (key 1-03).
    assert [(p.code, p.learners) for p in insights.stuck] == [
        ("m4", 2),
        ("kengineer-1-03", 1),
        ("m1", 1),
        ("m2", 1),
    ]
    m4 = insights.stuck[0]
    assert m4.last_done == "Module 4: Multi-Token Prediction (MTP)"
    assert m4.next_up == "Module 5: FP8 training and inference"
    assert insights.stuck[1].next_up.startswith("Key engineer-1-04: ")
    assert insights.stuck_learners == 5
    assert insights.at_risk == 5
    # b4: no self-assessment; b3 and n1: nothing ticked.
    assert (insights.never_started.no_assessment, insights.never_started.no_tick) == (1, 2)
    # Learners per level now, for the targeting: a4 b2 b3 b4 at 1; a2 b1 at 2; the rest at 3.
    assert [(row.level, row.learners) for row in insights.targeting] == [
        (1, 4),
        (2, 2),
        (3, 4),
        (4, 0),
    ]
    assert insights.targeting[0].pain and insights.targeting[0].offer


def test_one_cohort_and_dates_narrow_every_figure(seeded):
    spring = insights_figures(track=seeded.track, cohort_id=seeded.spring.pk, now=seeded.now)
    assert spring.learners == 4 and spring.cohorts == []
    assert [(p.code, p.learners) for p in spring.stuck] == [("m4", 2), ("m2", 1)]
    # Joined in the last 25 days: Summer (joined 21 days ago; b4 30 days ago) and n1.
    recent = insights_figures(
        track=seeded.track, joined_from=seeded.now.date() - timedelta(days=25), now=seeded.now
    )
    assert recent.learners == 5  # b1 b2 b3 b5 n1


def test_the_figures_take_a_fixed_number_of_queries(seeded, django_assert_num_queries):
    from curriculum.selectors import curriculum_rules

    curriculum_rules()  # cached, as on any page after the first
    with django_assert_num_queries(8):
        insights_figures(track=seeded.track, now=seeded.now)
    # Twice the learners, the same queries.
    for name, learner in list(seeded.learners.items()):
        learner.pk = None
        learner.user = UserFactory(email=f"{name}-twin@example.com")
        learner.save()
    with django_assert_num_queries(8):
        insights_figures(track=seeded.track, now=seeded.now)


@pytest.fixture
def instructor(db):
    user = UserFactory(email="teacher@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name="Instructors"))
    return user


def _listed(client, **params) -> set[str]:
    response = client.get(reverse("admin:learners_learner_changelist"), params)
    assert response.status_code == 200
    return {learner.user.email.split("@")[0] for learner in response.context["cl"].result_list}


def test_each_stuck_point_links_to_exactly_its_learners(seeded, client, instructor):
    client.force_login(instructor)
    track = {"track__id__exact": seeded.track.pk}
    assert _listed(client, stuck="m4", **track) == {"a1", "a2"}
    assert _listed(client, stuck="m2", **track) == {"a4"}
    assert _listed(client, stuck="m1", **track) == {"b1"}
    assert _listed(client, stuck="kengineer-1-03", **track) == {"b2"}
    assert _listed(client, stuck="kengineer-1-01", **track) == set()
    # Without the track, the founder stuck after module 4 is one of them too.
    assert _listed(client, stuck="m4") == {"a1", "a2", "f1"}
    for hostile in ("m", "m99999999999", "k", "x1", "m²", "knot-a-key"):
        assert _listed(client, stuck=hostile, **track) == set()
    assert _listed(client, progress="never", **track) == {"b3", "b4", "n1"}
    assert _listed(client, progress="started", inactive=14, **track) == {
        "a1", "a2", "a4", "b1", "b2"
    }  # fmt: skip
    assert _listed(client, stuck="m4", cohort__id__exact=seeded.spring.pk, **track) == {
        "a1", "a2"
    }  # fmt: skip
    assert _listed(client, joined=f"{seeded.now.date()}~", **track) == set()


def test_the_page_shows_the_figures_with_links_tables_and_csv(seeded, client, instructor):
    client.force_login(instructor)
    url = reverse("admin_insights")
    response = client.get(url, {"track": seeded.track.pk})
    assert response.status_code == 200
    page = response.content.decode()
    assert "<svg" in page and "Stuck points" in page
    assert "stuck=m4" in page and "Module 5: FP8 training and inference" in page
    assert "Cohorts side by side" in page
    stuck = client.get(url, {"track": seeded.track.pk, "csv": "stuck"})
    rows = list(csv.reader(io.StringIO(stuck.content.decode())))
    assert rows[0] == ["stuck point", "last done", "next not done", "learners"]
    assert rows[1][0] == "m4" and rows[1][3] == "2"
    modules = client.get(url, {"track": seeded.track.pk, "csv": "modules"})
    assert modules["Content-Type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(modules.content.decode())))[2] == [
        "2", "Multi-head Latent Attention (MLA)", "6", "4", "3"
    ]  # fmt: skip
    # A bad date is a message, never a 500.
    bad = client.get(url, {"track": seeded.track.pk, "joined_from": "yesterday"})
    assert bad.status_code == 200 and bad.context["insights"] is None


def test_a_nudge_from_a_stuck_point_goes_through_the_ledger_once(seeded, client, instructor):
    from allauth.account.models import EmailAddress

    for learner in seeded.learners.values():
        EmailAddress.objects.create(
            user=learner.user, email=learner.user.email, verified=True, primary=True
        )
    a2 = seeded.learners["a2"]
    a2.nudges_enabled = False
    a2.save(update_fields=["nudges_enabled"])
    client.force_login(instructor)
    url = f"{reverse('admin_insights')}?track={seeded.track.pk}"
    response = client.post(url, {"target": "stuck:m4"})
    assert response.status_code == 302
    # a1 only: a2 opted out.
    nudged = Nudge.objects.filter(kind="next_step").values_list("learner__user__email", flat=True)
    assert set(nudged) == {"a1@example.com"}
    client.post(url, {"target": "stuck:m4"})
    assert Nudge.objects.filter(kind="next_step").count() == 1  # never twice


def test_a_viewer_without_change_permission_cannot_nudge(seeded, client):
    viewer = UserFactory(email="viewer@example.com", is_staff=True)

    viewer.user_permissions.add(Permission.objects.get(codename="view_learner"))
    client.force_login(viewer)
    url = f"{reverse('admin_insights')}?track={seeded.track.pk}"
    assert client.get(url).status_code == 200
    assert client.post(url, {"target": "at_risk"}).status_code == 403
    assert not Nudge.objects.exists()


def test_the_page_shows_the_figures_as_of_the_last_refresh(seeded, client, instructor):
    from learners.insights.refresh import insights_refresh
    from learners.tasks import insights_refresh_task

    client.force_login(instructor)
    url = reverse("admin_insights")
    first = client.get(url, {"track": seeded.track.pk}).context["insights"]
    assert first.learners == 10
    LearnerFactory(engineer=True, user__email="late@example.com")
    # Served from the shared cache, with the time it was computed.
    again = client.get(url, {"track": seeded.track.pk}).context["insights"]
    assert (again.learners, again.now) == (10, first.now)
    assert "refresh now" in client.get(url, {"track": seeded.track.pk}).content.decode()
    # "Refresh now", or the hourly task, recompute them.
    assert (
        client.get(url, {"track": seeded.track.pk, "fresh": "1"}).context["insights"].learners == 11
    )
    LearnerFactory(engineer=True, user__email="later@example.com")
    # Two tracks x (all cohorts + Spring + Summer).
    assert insights_refresh_task() == 6
    assert client.get(url, {"track": seeded.track.pk}).context["insights"].learners == 12
    assert insights_refresh() == 6


def test_the_admin_shows_times_in_the_instructors_own_zone(seeded, client, instructor):
    url = reverse("admin_insights")
    client.force_login(instructor)
    client.cookies["admin_tz"] = "Asia/Tokyo"
    response = client.get(url, {"track": seeded.track.pk})
    tokyo = response.context["insights"].now.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert f"Figures as of {tokyo:%-d %b %Y, %H:%M} (JST)" in response.content.decode()
    # A zone nobody knows is ignored: the site's zone.
    client.cookies["admin_tz"] = "Mars/Olympus"
    assert "(UTC)" in client.get(url, {"track": seeded.track.pk}).content.decode()


def test_the_hourly_refresh_keeps_the_date_filtered_views_opened_in_the_last_day(
    seeded, client, instructor
):
    """A view filtered by start date is computed when first opened; from then on the hourly
    task refreshes it too (not only the cohorts), until nobody has opened it for a day."""
    import time_machine

    from learners.insights.refresh import insights_refresh

    client.force_login(instructor)
    url = reverse("admin_insights")
    dated = {"track": seeded.track.pk, "joined_from": "2020-01-01"}
    assert client.get(url, dated).context["insights"].learners == 10
    LearnerFactory(engineer=True, user__email="late@example.com")
    assert client.get(url, dated).context["insights"].learners == 10  # as of its first view

    # Two tracks x (all cohorts + Spring + Summer), and the dated view.
    assert insights_refresh() == 7
    assert client.get(url, dated).context["insights"].learners == 11
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        assert insights_refresh() == 6  # not opened for a day: dropped
