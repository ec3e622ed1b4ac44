"""The nudge timing rules, with a controlled clock and no database."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest

from learners.nudges import rules
from learners.nudges.rules import LearnerFacts, decide

AUCKLAND = "Pacific/Auckland"
LOS_ANGELES = "America/Los_Angeles"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def quiet(now: datetime, zone: str = "UTC", **overrides) -> LearnerFacts:
    """A verified learner with a self-assessment and no progress for a month."""
    fields = {
        "learner_id": 1,
        "signed_up_at": now - timedelta(days=60),
        "timezone": zone,
        "verified": True,
        "nudges_enabled": True,
        "has_assessment": True,
        "last_activity_at": now - timedelta(days=30),
        "last_nudge_at": {},
    }
    fields.update(overrides)
    return LearnerFacts(**fields)


def kinds(decisions) -> dict[str, rules.Decision]:
    return {d.kind: d for d in decisions}


def next_step(facts: LearnerFacts, now: datetime) -> rules.Decision | None:
    return kinds(decide(facts, now)).get(rules.NEXT_STEP)


# --- next_step: 09:00-09:59 local time ---------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "now", "due"),
    [
        # Auckland is ahead of UTC: NZDT (+13) in November, 09:30 local is 20:30 UTC the day before.
        (AUCKLAND, utc(2026, 11, 29, 20, 30), True),
        (AUCKLAND, utc(2026, 11, 29, 19, 59), False),  # 08:59 local
        (AUCKLAND, utc(2026, 11, 29, 21, 0), False),  # 10:00 local
        # Los Angeles is behind: PST (-8), 09:00 local is 17:00 UTC.
        (LOS_ANGELES, utc(2026, 11, 30, 17, 0), True),
        (LOS_ANGELES, utc(2026, 11, 30, 17, 59, 59), True),
        (LOS_ANGELES, utc(2026, 11, 30, 16, 59, 59), False),
        (LOS_ANGELES, utc(2026, 11, 30, 18, 0), False),
        # A half-hour zone: India (+05:30), 09:00 local is 03:30 UTC.
        ("Asia/Kolkata", utc(2026, 11, 30, 3, 30), True),
        ("Asia/Kolkata", utc(2026, 11, 30, 3, 0), False),
    ],
)
def test_next_step_only_in_the_learners_nine_oclock_hour(zone, now, due):
    assert (next_step(quiet(now, zone), now) is not None) is due


@pytest.mark.parametrize(
    ("zone", "now", "due"),
    [
        # Los Angeles springs forward on Sunday 8 March 2026 (PST -8 -> PDT -7).
        (LOS_ANGELES, utc(2026, 3, 7, 17, 30), True),  # Saturday 09:30 PST
        (LOS_ANGELES, utc(2026, 3, 7, 16, 30), False),  # Saturday 08:30 PST
        (LOS_ANGELES, utc(2026, 3, 9, 16, 30), True),  # Monday 09:30 PDT
        (LOS_ANGELES, utc(2026, 3, 9, 17, 30), False),  # Monday 10:30 PDT
        # Auckland falls back on Sunday 5 April 2026 (NZDT +13 -> NZST +12).
        (AUCKLAND, utc(2026, 4, 3, 20, 30), True),  # Saturday 09:30 NZDT
        (AUCKLAND, utc(2026, 4, 5, 21, 30), True),  # Monday 09:30 NZST
        (AUCKLAND, utc(2026, 4, 5, 20, 30), False),  # Monday 08:30 NZST
    ],
)
def test_next_step_hour_follows_daylight_saving_changes(zone, now, due):
    assert (next_step(quiet(now, zone), now) is not None) is due


@pytest.mark.parametrize("zone", [AUCKLAND, LOS_ANGELES, "Europe/London", "Asia/Kathmandu"])
def test_every_local_day_of_a_year_has_exactly_one_hourly_sweep_that_sends(zone):
    """The hourly sweep runs at minute 0 UTC; over a whole year, DST days included (23 and
    25 hours long), each local day has exactly one tick in which next_step is due."""
    tz = zoneinfo.ZoneInfo(zone)
    due_days: dict = {}
    tick = utc(2026, 1, 1, 0)
    while tick < utc(2027, 1, 1, 0):
        if next_step(quiet(tick, zone), tick) is not None:
            local = tick.astimezone(tz)
            assert local.hour == 9
            due_days[local.date()] = due_days.get(local.date(), 0) + 1
        tick += timedelta(hours=1)
    assert len(due_days) >= 364
    assert set(due_days.values()) == {1}


# --- next_step: the 7-day windows ---------------------------------------------------------


NINE_UTC = utc(2026, 6, 10, 9, 15)


def test_next_step_needs_seven_days_without_progress():
    now = NINE_UTC
    assert next_step(quiet(now, last_activity_at=now - timedelta(days=7)), now) is not None
    assert (
        next_step(quiet(now, last_activity_at=now - timedelta(days=6, hours=23, minutes=59)), now)
        is None
    )


def test_a_learner_who_never_made_progress_counts_from_signup():
    now = NINE_UTC
    assert next_step(quiet(now, last_activity_at=None, signed_up_at=now - timedelta(days=8)), now)
    assert not next_step(
        quiet(now, last_activity_at=None, signed_up_at=now - timedelta(days=3)), now
    )


def test_no_next_step_within_seven_days_of_the_last_one():
    now = NINE_UTC
    six_days = quiet(now, last_nudge_at={rules.NEXT_STEP: now - timedelta(days=6)})
    seven_days = quiet(now, last_nudge_at={rules.NEXT_STEP: now - timedelta(days=7)})
    assert next_step(six_days, now) is None
    assert next_step(seven_days, now) is not None


def test_the_week_is_counted_in_local_days_so_a_slightly_earlier_sweep_still_sends():
    """Last week's sweep ran at 09:00:40, this week's at 09:00:05: 6 days 23:59:25 apart."""
    now = utc(2026, 6, 17, 9, 0, 5)
    facts = quiet(now, last_nudge_at={rules.NEXT_STEP: utc(2026, 6, 10, 9, 0, 40)})
    assert next_step(facts, now) is not None


def test_next_step_dedup_key_is_the_iso_week_of_the_local_date():
    # Sunday 29 November 2026, 20:30 UTC, is Monday 30 November 09:30 in Auckland: the
    # learner's week (W49), not UTC's (W48).
    now = utc(2026, 11, 29, 20, 30)
    assert next_step(quiet(now, AUCKLAND), now).dedup_key == "2026-W49"
    assert next_step(quiet(now, LOS_ANGELES), utc(2026, 11, 30, 17, 30)).dedup_key == "2026-W49"
    assert rules.next_step_dedup_key(utc(2026, 11, 29).date()) == "2026-W48"


def test_dates_seven_days_apart_never_share_a_next_step_key():
    day = utc(2026, 1, 1).date()
    for offset in range(400):
        d = day + timedelta(days=offset)
        assert rules.next_step_dedup_key(d) != rules.next_step_dedup_key(d + timedelta(days=7))


def test_no_next_step_without_a_self_assessment():
    now = NINE_UTC
    assert next_step(quiet(now, has_assessment=False), now) is None


# --- self_assessment and welcome ------------------------------------------------------------


def test_self_assessment_reminder_two_days_after_signup_once():
    now = NINE_UTC
    fresh = quiet(now, has_assessment=False, signed_up_at=now - timedelta(days=1, hours=23))
    due = quiet(now, has_assessment=False, signed_up_at=now - timedelta(days=2))
    sent = quiet(
        now,
        has_assessment=False,
        signed_up_at=now - timedelta(days=5),
        last_nudge_at={rules.SELF_ASSESSMENT: now - timedelta(days=3)},
    )
    done = quiet(now, has_assessment=True, signed_up_at=now - timedelta(days=5))
    assert rules.SELF_ASSESSMENT not in kinds(decide(fresh, now))
    assert kinds(decide(due, now))[rules.SELF_ASSESSMENT].dedup_key == rules.ONCE
    assert rules.SELF_ASSESSMENT not in kinds(decide(sent, now))
    assert rules.SELF_ASSESSMENT not in kinds(decide(done, now))


def test_welcome_once_to_recent_verified_signups():
    now = NINE_UTC
    recent = quiet(now, signed_up_at=now - timedelta(hours=3))
    assert kinds(decide(recent, now))[rules.WELCOME].due
    greeted = quiet(now, signed_up_at=now - timedelta(hours=3), last_nudge_at={"welcome": now})
    assert rules.WELCOME not in kinds(decide(greeted, now))
    # A roster imported long ago is not greeted when nudges are switched on.
    assert rules.WELCOME not in kinds(decide(quiet(now), now))
    assert rules.welcome_decision(recent).dedup_key == rules.ONCE
    assert rules.welcome_decision(greeted) is None
    assert rules.welcome_decision(quiet(now, verified=False)) is None


# --- opted out and unverified -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [({"nudges_enabled": False}, rules.OPTED_OUT), ({"verified": False}, rules.UNVERIFIED)],
)
def test_opted_out_and_unverified_learners_are_skipped(overrides, reason):
    now = NINE_UTC
    facts = quiet(now, **overrides)
    decision = next_step(facts, now)
    assert decision is not None and not decision.due and decision.skip_reason == reason
    unassessed = quiet(now, has_assessment=False, signed_up_at=now - timedelta(days=3), **overrides)
    reminder = kinds(decide(unassessed, now))[rules.SELF_ASSESSMENT]
    assert not reminder.due and reminder.skip_reason == reason
    level_up = rules.level_up_decision(facts, from_level=1, to_level=2)
    assert not level_up.due


# --- level_up ---------------------------------------------------------------------------------


def test_level_up_once_per_level_reached():
    facts = quiet(NINE_UTC)
    assert rules.level_up_decision(facts, from_level=1, to_level=3).dedup_key == "level-3"
    with pytest.raises(ValueError, match="placement"):
        rules.level_up_decision(facts, from_level=None, to_level=2)
    with pytest.raises(ValueError, match="did not go up"):
        rules.level_up_decision(facts, from_level=3, to_level=2)


def test_the_clock_must_be_aware():
    with pytest.raises(ValueError, match="aware"):
        decide(quiet(NINE_UTC), datetime(2026, 6, 10, 9, 15))  # noqa: DTZ001


def test_a_dedup_key_is_read_back_by_the_rules_that_made_it():
    day = date(2026, 5, 1)
    levels = [1, 2, 3, 4]
    assert [rules.level_of(rules.level_up_dedup_key(level)) for level in levels] == levels
    assert rules.level_of(rules.next_step_dedup_key(day)) is None
    assert rules.is_manual(rules.manual_dedup_key(day))
    assert not rules.is_manual(rules.next_step_dedup_key(day))
    assert not rules.is_manual(rules.level_up_dedup_key(2))
