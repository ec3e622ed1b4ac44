"""The student's own pace: the pure estimate, and the sentence on the progress page."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from curriculum.models import Key
from learners.insights.pace import pace_estimate
from learners.insights.selectors import learner_pace
from learners.models import Learner
from learners.services import key_set_done, learner_recompute_level
from tests.factories import LearnerFactory

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
TODAY = date(2026, 12, 7)


def _estimate(ticks: int, remaining: int, *, started_days: int = 60, spread_days: int = 27):
    """``ticks`` keys ticked evenly over the last ``spread_days`` days."""
    ticked_at = [NOW - timedelta(days=spread_days * i / max(ticks, 1)) for i in range(ticks)]
    return pace_estimate(
        ticked_at=ticked_at,
        remaining=remaining,
        started_at=NOW - timedelta(days=started_days),
        now=NOW,
        today=TODAY,
        level_name="Surviving",
    )


def test_twelve_keys_in_four_weeks_is_three_a_week_and_the_date_follows():
    pace = _estimate(12, 10)
    assert pace.rate_words == "3 keys a week"
    # 10 keys at 3 a week: 23.3 days, rounded up to 24: 7 December + 24 = 31 December.
    assert pace.finish_on == date(2026, 12, 31)
    assert pace.finish_words == "31 December"


def test_a_date_next_year_names_the_year():
    pace = _estimate(12, 12)  # 28 days
    assert pace.finish_words == "4 January 2027"


@pytest.mark.parametrize(("ticks", "words"), [(4, "1 key a week"), (6, "1.5 keys a week")])
def test_the_rate_in_words(ticks, words):
    assert _estimate(ticks, 3).rate_words == words


@pytest.mark.parametrize(
    ("ticks", "remaining", "started_days", "why"),
    [
        (12, 10, 20, "started less than four weeks ago"),
        (1, 10, 60, "one key is not a pace"),
        (12, 0, 60, "nothing left"),
        (2, 30, 60, "more than a year away"),
    ],
)
def test_nothing_without_enough_history(ticks, remaining, started_days, why):
    assert _estimate(ticks, remaining, started_days=started_days) is None, why


def test_ticks_outside_the_window_do_not_count():
    old = [NOW - timedelta(days=29 + i) for i in range(10)]
    recent = [NOW - timedelta(days=1), NOW - timedelta(days=2)]
    pace = pace_estimate(
        ticked_at=old + recent,
        remaining=1,
        started_at=NOW - timedelta(days=90),
        now=NOW,
        today=TODAY,
        level_name="Surviving",
    )
    assert pace.keys_per_week == 0.5


@pytest.mark.django_db
def test_the_progress_page_says_the_pace_in_words_never_about_pay():
    learner = LearnerFactory(engineer=True, annual_compensation=160_000)
    learner_recompute_level(learner=learner)
    now = timezone.now()
    Learner.objects.filter(pk=learner.pk).update(assessment_submitted_at=now - timedelta(days=40))
    learner.refresh_from_db()
    assert learner.level == 2
    hand = Key.objects.filter(track__slug="engineer", level__number=2, modules__isnull=True)
    for i, key in enumerate(hand.order_by("order")[:4]):
        key_set_done(learner=learner, key=key, done=True, completed_at=now - timedelta(days=3 * i))
    client = Client()
    client.force_login(learner.user)
    page = client.get("/progress/").text
    sentence = re.search(r"At your pace over the last four weeks[^<]*", page).group(0)
    # 4 keys in 4 weeks: 1 a week; the page counts 12 Surviving keys, 4 done: 8 weeks left.
    finish = learner_pace(Learner.objects.get(pk=learner.pk)).finish_words
    assert sentence == (
        "At your pace over the last four weeks (1 key a week) you would finish "
        f"Surviving’s keys around {finish}."
    )
    assert learner_pace(learner).remaining == 8
    for word in ("$", "salary", "pay", "revenue", "earn", "MRR"):
        assert word not in sentence


@pytest.mark.django_db
def test_a_new_learner_sees_no_pace():
    learner = LearnerFactory(engineer=True)
    learner_recompute_level(learner=learner)
    client = Client()
    client.force_login(learner.user)
    assert "At your pace" not in client.get("/progress/").text
