"""Experiments, the budget and the learner's preferences, through the services and pages,
against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from learners.models import Learner
from learners.nudges import rules
from learners.nudges.content import preferences_url
from learners.nudges.models import Experiment, Nudge, NudgeBudget, NudgeStatus
from learners.nudges.services.experiments import experiment_set_share, holdout_key
from learners.nudges.services.handoff import nudges_hand_pending
from learners.nudges.services.preferences import learner_set_nudge_preferences
from learners.nudges.services.sending import nudges_send
from learners.nudges.services.sweep import nudges_sweep
from learners.roster import COLUMNS, roster_import

from .conftest import bulk_learners, make_learner

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 10, 9, 15, tzinfo=UTC)  # a Wednesday, 09:15 UTC
LONG_AGO = NOW - timedelta(days=30)


def pending_ids() -> list[int]:
    return list(
        Nudge.objects.filter(status=NudgeStatus.PENDING).order_by("pk").values_list("pk", flat=True)
    )


def send_pending(now: datetime):
    return nudges_send(nudge_ids=pending_ids(), now=now)


# Hold-out groups -------------------------------------------------------------------------------


def test_held_out_learners_get_a_held_out_row_and_no_email(smtp_server):
    experiment_set_share(kind=rules.NEXT_STEP, percent=50, now=LONG_AGO)
    learners = bulk_learners(40, signed_up_at=LONG_AGO, track=None)
    Learner.objects.filter(pk__in=[x.pk for x in learners]).update(
        assessment_submitted_at=LONG_AGO, last_activity_at=LONG_AGO
    )
    nudges_sweep(now=NOW)
    experiment = Experiment.objects.get(kind=rules.NEXT_STEP, ended_at__isnull=True)
    rows = Nudge.objects.filter(kind=rules.NEXT_STEP)
    held = {n.learner_id for n in rows if n.status == NudgeStatus.HELD_OUT}
    key = holdout_key(rules.NEXT_STEP)
    expected = {x.pk for x in learners if rules.held_out(key=key, learner_id=x.pk, percent=50)}
    assert held == expected and 0 < len(held) < 40
    assert {n.experiment_id for n in rows} == {experiment.pk}
    send_pending(NOW)
    emailed = {m["To"] for m in smtp_server.messages}
    assert emailed and not emailed & {x.user.email for x in learners if x.pk in held}
    # The sweep again the same week: nothing new, nothing twice.
    nudges_sweep(now=NOW + timedelta(hours=1))
    assert rows.count() == 40


def test_changing_the_share_ends_the_experiment_and_starts_a_new_one():
    first = experiment_set_share(kind=rules.NEXT_STEP, percent=20, now=LONG_AGO)
    second = experiment_set_share(kind=rules.NEXT_STEP, percent=30, now=NOW)
    first.refresh_from_db()
    assert first.ended_at == NOW and second.ended_at is None and second.pk != first.pk
    assert experiment_set_share(kind=rules.NEXT_STEP, percent=0, now=NOW) is None
    assert not Experiment.objects.filter(kind=rules.NEXT_STEP, ended_at__isnull=True).exists()
    with pytest.raises(ValueError):
        experiment_set_share(kind=rules.NEXT_STEP, percent=101)


def test_an_ended_experiment_is_read_only_in_the_admin(admin_client):
    ended = experiment_set_share(kind=rules.NEXT_STEP, percent=20, now=LONG_AGO)
    running = experiment_set_share(kind=rules.NEXT_STEP, percent=30, now=NOW)
    url = reverse("admin:nudges_experiment_change", args=[ended.pk])
    page = admin_client.get(url)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    response = admin_client.post(url, {"holdout_percent": "20"})
    assert response.status_code == 403
    running.refresh_from_db()
    assert running.ended_at is None and running.holdout_percent == 30
    assert Experiment.objects.filter(kind=rules.NEXT_STEP, ended_at__isnull=True).count() == 1


def test_transactional_kinds_have_no_experiment_by_default():
    running = set(Experiment.objects.filter(ended_at__isnull=True).values_list("kind", flat=True))
    assert running == {rules.NEXT_STEP, rules.SELF_ASSESSMENT}


# The budget --------------------------------------------------------------------------------------


def no_holdout():
    for kind in rules.EXPERIMENT_KINDS:
        experiment_set_share(kind=kind, percent=0)


def test_quiet_hours_defer_a_level_up_to_the_morning_in_the_learners_zone(smtp_server):
    no_holdout()
    learner = make_learner(timezone="Asia/Tokyo")  # 09:15 UTC is 18:15 in Tokyo
    night = datetime(2026, 6, 10, 13, 30, tzinfo=UTC)  # 22:30 in Tokyo
    nudge = Nudge.objects.create(learner=learner, kind=rules.LEVEL_UP, dedup_key="level-1")
    report = nudges_send(nudge_ids=[nudge.pk], now=night)
    nudge.refresh_from_db()
    assert report.deferred == 1 and smtp_server.messages == []
    morning = datetime(2026, 6, 10, 23, 0, tzinfo=UTC)  # 08:00 in Tokyo
    assert nudge.status == NudgeStatus.PENDING and nudge.not_before == morning
    # The frequent pass leaves it until then, and hands it at 08:00.
    assert nudges_hand_pending(now=morning - timedelta(minutes=5)) == 0
    assert nudges_send(nudge_ids=[nudge.pk], now=morning).sent == 1
    assert len(smtp_server.to(learner.user.email)) == 1


def test_over_the_cap_a_nudge_waits_for_the_window_and_then_goes(smtp_server):
    no_holdout()
    NudgeBudget.objects.update_or_create(
        pk=1, defaults={"weekly_cap": 2, "quiet_start": time(21), "quiet_end": time(8)}
    )
    learner = make_learner(created_at=NOW - timedelta(days=30))
    for day, week in ((0, "2026-W20"), (2, "2026-W21")):
        Nudge.objects.create(learner=learner, kind=rules.NEXT_STEP, dedup_key=week, created_at=NOW)
        assert send_pending(NOW + timedelta(days=day)).sent == 1
    third = Nudge.objects.create(
        learner=learner, kind=rules.NEXT_STEP, dedup_key="2026-W22", created_at=NOW
    )
    report = send_pending(NOW + timedelta(days=3))
    third.refresh_from_db()
    assert report.deferred == 1 and third.not_before == NOW + timedelta(days=7)
    assert len(smtp_server.messages) == 2
    assert send_pending(NOW + timedelta(days=7)).sent == 1
    assert len(smtp_server.messages) == 3


def test_a_level_up_goes_out_over_the_cap_and_does_not_count_toward_it(smtp_server):
    """level_up is the learner's own event: outside the weekly cap (PRODUCT.md "Nudges")."""
    no_holdout()
    NudgeBudget.objects.update_or_create(
        pk=1, defaults={"weekly_cap": 2, "quiet_start": time(21), "quiet_end": time(8)}
    )
    learner = make_learner(created_at=NOW - timedelta(days=30))
    for week in ("2026-W20", "2026-W21"):
        Nudge.objects.create(learner=learner, kind=rules.NEXT_STEP, dedup_key=week, created_at=NOW)
        assert send_pending(NOW).sent == 1
    Nudge.objects.create(learner=learner, kind=rules.LEVEL_UP, dedup_key="level-2")
    Learner.objects.filter(pk=learner.pk).update(level=2)
    assert send_pending(NOW + timedelta(hours=1)).sent == 1
    assert len(smtp_server.messages) == 3
    # Three emails in the week, two of them counted: the cap is still full for a next step.
    late = Nudge.objects.create(
        learner=learner, kind=rules.NEXT_STEP, dedup_key="2026-W22", created_at=NOW
    )
    assert send_pending(NOW + timedelta(hours=2)).deferred == 1
    late.refresh_from_db()
    assert late.not_before == NOW + timedelta(days=7)


def test_several_due_at_once_go_out_as_one_email_saying_why_for_each(smtp_server):
    no_holdout()
    learner = make_learner(engineer=False, created_at=NOW - timedelta(days=2))
    nudges_sweep(now=NOW)  # welcome (recent signup) and self_assessment (2 days on)
    assert Nudge.objects.filter(learner=learner).count() == 2
    report = send_pending(NOW)
    assert (report.sent, report.emails) == (2, 1)
    [message] = smtp_server.to(learner.user.email)
    for part in ("plain", "html"):
        body = message.get_body((part,)).get_content()
        assert "Why this email: You have a new account on the Profit Pyramid." in body
        assert "haven't filled in the self-assessment" in body or (
            "haven&#x27;t filled in the self-assessment" in body
        )
        assert "/nudges/preferences/" in body
    rows = Nudge.objects.filter(learner=learner).order_by("pk")
    assert [r.status for r in rows] == [NudgeStatus.SENT] * 2
    assert rows[1].combined_into_id == rows[0].pk


def test_a_next_step_whose_learner_progressed_is_skipped_with_the_reason(smtp_server):
    no_holdout()
    learner = make_learner(created_at=LONG_AGO, last_activity_at=LONG_AGO)
    nudges_sweep(now=NOW)
    Learner.objects.filter(pk=learner.pk).update(last_activity_at=NOW + timedelta(minutes=1))
    report = send_pending(NOW + timedelta(minutes=2))
    nudge = Nudge.objects.get(learner=learner)
    assert report.skipped == 1 and (nudge.status, nudge.last_error) == ("skipped", "progressed")
    assert smtp_server.messages == []


def test_the_why_line_names_the_days_without_progress(smtp_server):
    no_holdout()
    learner = make_learner(created_at=LONG_AGO, last_activity_at=NOW - timedelta(days=9))
    nudges_sweep(now=NOW)
    send_pending(NOW)
    [message] = smtp_server.to(learner.user.email)
    for part in ("plain", "html"):
        body = message.get_body((part,)).get_content()
        assert "Why this email: You haven" in body and "ticked anything for 9 days." in body


# Preferences -------------------------------------------------------------------------------------


def test_the_preference_page_from_an_email_turns_one_kind_off_without_the_address():
    learner = make_learner(created_at=LONG_AGO, last_activity_at=LONG_AGO)
    client = Client()
    path = preferences_url(learner.pk).removeprefix("https://pyramid.test")
    page = client.get(path)
    assert page.status_code == 200 and learner.user.email not in page.content.decode()
    assert "private" in page["Cache-Control"] and "no-store" in page["Cache-Control"]
    data = {f"kind_{kind}": "on" for kind in rules.KINDS if kind != rules.NEXT_STEP}
    assert client.post(path, data).status_code == 200
    nudges_sweep(now=NOW)
    assert not Nudge.objects.filter(learner=learner, kind=rules.NEXT_STEP).exists()
    assert client.get(path.replace("/preferences/", "/preferences/x")).status_code == 400


def test_the_signed_in_preference_page_is_linked_from_the_profile(client):
    learner = make_learner()
    client.force_login(learner.user)
    assert reverse("nudges:preferences") in client.get("/profile/").content.decode()
    page = client.get(reverse("nudges:preferences"))
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    client.post(reverse("nudges:preferences"), {"all_off": "on"})
    learner.refresh_from_db()
    assert learner.nudges_enabled is False


def test_an_import_cannot_turn_nudges_back_on_after_the_learner_turned_them_off():
    learner = make_learner()
    learner_set_nudge_preferences(learner=learner, enabled=False)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerow(
        [
            {"email": learner.user.email, "nudges_enabled": "yes"}.get(column, "")
            for column in COLUMNS
        ]
    )
    report = roster_import(out.getvalue())
    assert report.ok, report.errors
    learner.refresh_from_db()
    assert learner.nudges_enabled is False
    said = " ".join(change.description for change in report.changes)
    assert "nudges stay off: the learner turned them off" in said
    # Only the learner turns them back on.
    learner_set_nudge_preferences(learner=learner, enabled=True)
    assert roster_import(out.getvalue()).ok


def test_the_admin_shows_the_learners_opt_out_read_only(admin_client):
    learner = make_learner()
    page = admin_client.get(reverse("admin:learners_learner_change", args=[learner.pk]))
    assert 'name="nudges_enabled"' in page.content.decode()
    learner_set_nudge_preferences(learner=learner, enabled=False)
    page = admin_client.get(reverse("admin:learners_learner_change", args=[learner.pk]))
    assert 'name="nudges_enabled"' not in page.content.decode()


def test_an_unknown_kind_is_refused_and_nothing_changes():
    learner = make_learner()
    with pytest.raises(ValueError):
        learner_set_nudge_preferences(learner=learner, enabled=False, kinds_off=["spam"])
    learner.refresh_from_db()
    assert learner.nudges_enabled is True
