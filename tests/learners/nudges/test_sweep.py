"""The sweep, the hooks that create nudges, and the command, on the test database.

Emails go to a real SMTP server (aiosmtpd); tasks run in-process (no broker), handed after
commit, which ``django_capture_on_commit_callbacks(execute=True)`` plays out.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from curriculum.models import Track
from learners.models import User
from learners.nudges.models import Nudge
from learners.nudges.services.handoff import nudges_hand_pending
from learners.nudges.services.ledger import nudge_send_now
from learners.nudges.services.sweep import nudges_sweep
from learners.nudges.tasks import nudges_send_chunk
from learners.services import learner_set_assessment
from tests.factories import engineer_answers

from .conftest import bulk_learners, make_learner

# Tests of the sweep, not of experiments: no learner held out unless a test says so.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_holdout", "no_quiet_hours")]

# 09:15 UTC on a Wednesday: next_step time for learners in UTC.
NOW = datetime(2026, 6, 10, 9, 15, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=30)


@pytest.fixture
def roster():
    """One learner per situation, as of NOW."""
    return {
        "quiet": make_learner(created_at=LONG_AGO, last_activity_at=LONG_AGO),
        "unassessed": make_learner(
            engineer=False, created_at=NOW - timedelta(days=3), last_activity_at=None
        ),
        "busy": make_learner(created_at=LONG_AGO, last_activity_at=NOW - timedelta(days=1)),
        "opted_out": make_learner(
            created_at=LONG_AGO, last_activity_at=LONG_AGO, nudges_enabled=False
        ),
        "unverified": make_learner(verified=False, created_at=LONG_AGO, last_activity_at=LONG_AGO),
        "auckland": make_learner(
            created_at=LONG_AGO, last_activity_at=LONG_AGO, timezone="Pacific/Auckland"
        ),
    }


def sweep(django_capture_on_commit_callbacks, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        return nudges_sweep(**kwargs)


def test_a_sweep_sends_each_due_nudge_once_even_when_run_twice(
    roster, smtp_server, django_capture_on_commit_callbacks
):
    first = sweep(django_capture_on_commit_callbacks, now=NOW)
    second = sweep(django_capture_on_commit_callbacks, now=NOW)

    assert smtp_server.recipients() == sorted(
        [roster["quiet"].user.email, roster["unassessed"].user.email]
    )
    assert smtp_server.to(roster["quiet"].user.email)[0]["Subject"].startswith("Your next step at")
    assert first.kinds["next_step"].due == first.kinds["self_assessment"].due == 1
    assert first.kinds["next_step"].skipped == 2  # opted out, unverified
    assert second.kinds["next_step"].due == second.kinds["self_assessment"].due == 0
    rows = Nudge.objects.order_by("kind").values_list("learner_id", "kind", "dedup_key", "status")
    assert list(rows) == [
        (roster["quiet"].pk, "next_step", "2026-W24", "sent"),
        (roster["unassessed"].pk, "self_assessment", "once", "sent"),
    ]


def test_next_weeks_sweep_sends_the_next_step_again_but_not_the_reminder(
    roster, smtp_server, django_capture_on_commit_callbacks
):
    quiet, unassessed = roster["quiet"].user.email, roster["unassessed"].user.email
    sweep(django_capture_on_commit_callbacks, now=NOW)
    sweep(django_capture_on_commit_callbacks, now=NOW + timedelta(days=6))
    assert len(smtp_server.to(quiet)) == len(smtp_server.to(unassessed)) == 1
    sweep(django_capture_on_commit_callbacks, now=NOW + timedelta(days=7))
    assert len(smtp_server.to(quiet)) == 2
    assert len(smtp_server.to(unassessed)) == 1


def test_the_same_chunk_task_delivered_twice_sends_once(roster, smtp_server):
    # Decide without playing the commit hooks: the rows wait, never handed.
    nudges_sweep(now=NOW)
    ids = list(Nudge.objects.values_list("pk", flat=True))
    assert len(ids) == 2 and not Nudge.objects.filter(handed_at__isnull=False).exists()

    nudges_send_chunk.apply(args=[ids])
    nudges_send_chunk.apply(args=[ids])

    assert len(smtp_server.messages) == 2
    assert set(Nudge.objects.values_list("status", "attempts")) == {("sent", 1)}


def test_a_learner_who_opts_out_before_the_worker_runs_is_skipped(roster, smtp_server):
    nudges_sweep(now=NOW)
    roster["quiet"].nudges_enabled = False
    roster["quiet"].save()
    nudges_send_chunk.apply(args=[list(Nudge.objects.values_list("pk", flat=True))])
    assert smtp_server.recipients() == [roster["unassessed"].user.email]
    skipped = Nudge.objects.get(learner=roster["quiet"])
    assert (skipped.status, skipped.last_error) == ("skipped", "opted out")


def test_the_pass_hands_rows_that_never_reached_a_worker(roster, smtp_server):
    nudges_sweep(now=NOW)  # commit hooks not played: as if the broker had been down
    assert nudges_hand_pending(now=NOW + timedelta(seconds=30)) == 0  # too fresh
    assert nudges_hand_pending(now=NOW + timedelta(minutes=5)) == 2
    assert len(smtp_server.messages) == 2
    assert nudges_hand_pending(now=NOW + timedelta(days=1)) == 0


def test_the_email_names_level_next_keys_module_and_targeting(smtp_server, roster):
    nudges_sweep(now=NOW)
    nudge = Nudge.objects.get(learner=roster["quiet"])
    nudges_send_chunk.apply(args=[[nudge.pk]])
    message = smtp_server.to(roster["quiet"].user.email)[0]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    learner = roster["quiet"]
    learner.refresh_from_db()
    from learners.selectors import learner_placement

    placement = learner_placement(learner)
    first_key = placement.next_steps.open_keys[0]
    for body in (text, html):
        assert f"Level {placement.level}" in body
        assert placement.level_name in body
        assert first_key.text in body
        assert first_key.code not in body  # internal codes never reach a student
        assert "https://pyramid.test/progress/" in body
        assert "https://pyramid.test/nudges/unsubscribe/" in body
    for number in placement.next_steps.modules:
        assert f"Module {number}" in text
    from curriculum.models import Level

    level = Level.objects.get(number=placement.level)
    assert level.promise in text
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (
        message["List-Unsubscribe"].strip().startswith("<https://pyramid.test/nudges/unsubscribe/")
    )


def test_sweep_queries_per_chunk_do_not_grow_with_the_roster(settings):
    """200 and 2,000 learners, chunks of 100: the same queries per chunk (the commit hook that
    hands each chunk adds one more per chunk; it is not played here)."""
    settings.LEARNER_CHUNK_SIZE = 100
    signed_up = NOW - timedelta(days=3)
    counts = {}
    for n, prefix in ((200, "small"), (2000, "large")):
        Nudge.objects.all().delete()
        learners = bulk_learners(n, signed_up_at=signed_up, prefix=prefix)
        with CaptureQueriesContext(connection) as queries:
            report = nudges_sweep(now=NOW)
        assert report.kinds["self_assessment"].due == n
        counts[n] = (len(queries), report.chunks)
        User.objects.filter(pk__in=[learner.user_id for learner in learners]).delete()
    (q_small, chunks_small), (q_large, chunks_large) = counts[200], counts[2000]
    assert (chunks_small, chunks_large) == (2, 20)
    # Ten times the chunks costs exactly 18 chunks' worth of queries more: constant per chunk
    # (learners, verified addresses, latest rows, preferences, the bulk insert in SQLite's
    # batches, the new ids, and the chunk's transaction), plus a few once per sweep (the
    # running experiments, the read that finds no more learners, the closing count).
    per_chunk = (q_large - q_small) / (chunks_large - chunks_small)
    assert per_chunk == int(per_chunk) and per_chunk <= 9
    assert q_small - chunks_small * per_chunk <= 4


def test_a_level_up_sends_one_email_for_the_level_reached(
    smtp_server, django_capture_on_commit_callbacks
):
    # Placed already (at Struggling, as a founder): a new self-assessment moves them up.
    learner = make_learner(engineer=False, placed_at=timezone.now())
    engineer = Track.objects.get(slug="engineer")
    answers = engineer_answers()
    with django_capture_on_commit_callbacks(execute=True):
        result = learner_set_assessment(learner=learner, track=engineer, answers=answers)
    assert result.went_up
    with django_capture_on_commit_callbacks(execute=True):
        learner_set_assessment(learner=learner, track=engineer, answers=answers)  # no change

    level = result.placement.level
    messages = smtp_server.to(learner.user.email)
    assert [m["Subject"] for m in messages] == [
        f"You reached Level {level}: {result.placement.level_name}"
    ]
    assert Nudge.objects.get(learner=learner).dedup_key == f"level-{level}"


def test_no_level_up_email_to_an_opted_out_learner(smtp_server, django_capture_on_commit_callbacks):
    learner = make_learner(engineer=False, nudges_enabled=False, placed_at=timezone.now())
    answers = engineer_answers()
    with django_capture_on_commit_callbacks(execute=True):
        result = learner_set_assessment(
            learner=learner, track=Track.objects.get(slug="engineer"), answers=answers
        )
    assert result.went_up
    assert smtp_server.messages == []
    assert not Nudge.objects.exists()


def test_confirming_the_address_sends_the_welcome_once(
    client, smtp_server, django_capture_on_commit_callbacks
):
    learner = make_learner(verified=False)
    address = EmailAddress.objects.create(
        user=learner.user, email=learner.user.email, verified=False, primary=True
    )
    key = EmailConfirmationHMAC(address).key
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_confirm_email", args=[key]))
    assert response.status_code == 302
    address.refresh_from_db()
    assert address.verified
    with django_capture_on_commit_callbacks(execute=True):
        nudges_sweep(now=learner.created_at + timedelta(hours=1))
    messages = smtp_server.to(learner.user.email)
    assert len(messages) == 1
    assert messages[0]["Subject"].startswith("Welcome to the Profit Pyramid")


def test_send_now_for_the_admin_queues_once_per_day(
    smtp_server, django_capture_on_commit_callbacks
):
    wanted = [make_learner() for _ in range(3)]
    opted_out = make_learner(nudges_enabled=False)
    ids = [learner.pk for learner in [*wanted, opted_out]]
    with django_capture_on_commit_callbacks(execute=True):
        assert nudge_send_now(learner_ids=ids, now=NOW) == 3
    with django_capture_on_commit_callbacks(execute=True):
        assert nudge_send_now(learner_ids=ids, now=NOW + timedelta(hours=1)) == 0
    assert smtp_server.recipients() == sorted(learner.user.email for learner in wanted)
    assert set(Nudge.objects.values_list("kind", "dedup_key")) == {
        ("next_step", "manual-2026-06-10")
    }


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_send_nudges_command_prints_counts_per_kind(roster, smtp_server):
    """Committed for real (no test transaction), as when run by hand."""
    out = StringIO()
    call_command("send_nudges", "--at", "2026-06-10T09:15:00+00:00", stdout=out)
    lines = {line.split()[0]: line.split()[1:] for line in out.getvalue().splitlines()[2:]}
    # kind: due, sent, skipped, failed, held out, waiting
    assert lines["next_step"] == ["1", "1", "2", "0", "0", "0"]
    assert lines["self_assessment"] == ["1", "1", "0", "0", "0", "0"]
    assert lines["welcome"] == ["0", "0", "0", "0", "0", "0"]
    assert len(smtp_server.messages) == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_send_nudges_command_prints_how_many_were_held_out_per_kind(smtp_server):
    """Everyone held out of next_step: due, none sent, all held out; the reminder unaffected."""
    from learners.nudges.services.experiments import experiment_set_share

    experiment_set_share(kind="next_step", percent=100, now=LONG_AGO)
    experiment_set_share(kind="self_assessment", percent=0, now=LONG_AGO)
    quiet = [make_learner(created_at=LONG_AGO, last_activity_at=LONG_AGO) for _ in range(3)]
    make_learner(engineer=False, created_at=NOW - timedelta(days=3), last_activity_at=None)
    out = StringIO()
    call_command("send_nudges", "--at", "2026-06-10T09:15:00+00:00", stdout=out)
    header, *rows = out.getvalue().splitlines()[1:5]
    assert header.split() == ["kind", "due", "sent", "skipped", "failed", "held_out", "waiting"]
    lines = {line.split()[0]: line.split()[1:] for line in rows}
    assert lines["next_step"] == ["3", "0", "0", "0", "3", "0"]
    assert lines["self_assessment"] == ["1", "1", "0", "0", "0", "0"]
    assert Nudge.objects.filter(status="held_out", learner__in=quiet).count() == 3
    assert len(smtp_server.messages) == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_every_due_nudge_is_accounted_for_once_the_cap_deferred_ones_as_waiting(smtp_server):
    """The summary adds up: of the due, each is sent, waiting (the weekly cap deferred it),
    held out, failed or skipped when sending; nothing is counted twice."""
    from learners.nudges.models import NudgeBudget

    NudgeBudget.objects.update_or_create(pk=1, defaults={"weekly_cap": 1})
    quiet = [make_learner(created_at=LONG_AGO, last_activity_at=LONG_AGO) for _ in range(3)]
    # Two of them had an email yesterday: this week's one is spent, their next step waits.
    for learner in quiet[:2]:
        Nudge.objects.create(
            learner=learner,
            kind="welcome",
            dedup_key="once",
            status="sent",
            sending_started_at=NOW - timedelta(days=1),
            sent_at=NOW - timedelta(days=1),
            created_at=NOW - timedelta(days=1),
        )
    # Committed for real, as when run by hand: each chunk is sent when its rows commit, so
    # the report counts what became of them.
    report = nudges_sweep(now=NOW)
    counts = report.kinds["next_step"]
    assert (counts.due, counts.sent, counts.waiting) == (3, 1, 2)
    assert len(smtp_server.messages) == 1
    for kind, counts in report.kinds.items():
        assert counts.accounted == counts.due, kind


def test_send_nudges_dry_run_writes_and_sends_nothing(roster, smtp_server):
    out = StringIO()
    call_command("send_nudges", "--at", "2026-06-10T09:15", "--dry-run", stdout=out)
    assert "dry run" in out.getvalue()
    assert "next_step              1       0       2       0" in out.getvalue()
    assert not Nudge.objects.exists() and smtp_server.messages == []


def test_send_nudges_rejects_a_bad_moment():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="not an ISO-8601"):
        call_command("send_nudges", "--at", "next tuesday")


def test_the_sweep_of_an_opted_out_or_unverified_learner_writes_no_row(roster):
    nudges_sweep(now=NOW)
    assert not Nudge.objects.filter(
        learner__in=[roster["opted_out"], roster["unverified"]]
    ).exists()


def test_auckland_learner_is_nudged_at_nine_in_auckland(roster, smtp_server):
    when = datetime(2026, 6, 9, 21, 30, tzinfo=UTC)  # 09:30 NZST on 10 June
    nudges_sweep(now=when)
    assert set(Nudge.objects.filter(kind="next_step").values_list("learner_id", flat=True)) == {
        roster["auckland"].pk
    }


def test_send_nudges_at_a_moment_sends_as_of_that_moment(
    smtp_server, django_capture_on_commit_callbacks
):
    """The whole send runs as of --at: the day count of "why this email" and the quiet hours
    are those of the moment, not of the real clock (instructors rehearse a sweep)."""
    from learners.nudges import rules
    from learners.nudges.models import NudgeBudget
    from learners.nudges.services.experiments import experiment_set_share

    # The default quiet hours (this module's tests otherwise run without them).
    NudgeBudget.objects.update_or_create(
        pk=1,
        defaults={"quiet_start": rules.DEFAULT_QUIET_START, "quiet_end": rules.DEFAULT_QUIET_END},
    )
    experiment_set_share(kind="next_step", percent=0, now=LONG_AGO)
    quiet = make_learner(created_at=LONG_AGO, last_activity_at=NOW - timedelta(days=10))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_nudges", "--at", NOW.isoformat(), stdout=StringIO())
    (message,) = smtp_server.to(quiet.user.email)
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "You haven't ticked anything for 10 days." in text
    row = Nudge.objects.get(learner=quiet)
    assert row.sent_at == NOW and row.sending_started_at == NOW
    # At 09:15 UTC it is 02:15 in Los Angeles: quiet hours as of the moment defer the
    # self-assessment reminder due then, to 08:00 there (15:00 UTC).
    experiment_set_share(kind="self_assessment", percent=0, now=LONG_AGO)
    night = make_learner(
        engineer=False, created_at=NOW - timedelta(days=3), timezone="America/Los_Angeles"
    )
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_nudges", "--at", NOW.isoformat(), stdout=StringIO())
    row = Nudge.objects.get(learner=night)
    assert row.status == "pending" and row.not_before == datetime(2026, 6, 10, 15, tzinfo=UTC)
    assert smtp_server.to(night.user.email) == []
