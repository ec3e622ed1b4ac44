"""When a nudge is due: pure rules over plain data, the clock passed in.

PRODUCT.md "Nudges":

- welcome: after the email address is verified; once.
- self_assessment: self-assessment still missing 2 days after signup; once.
- next_step: no progress for 7 days and no next_step in the last 7 days, at 09:00-09:59 in
  the learner's time zone; once a week (only once there is a self-assessment: its track
  is what names the next step).
- level_up: the level went up; once per level reached.

The dedup key of each kind is made here and only here; the ledger's unique constraint on
(learner, kind, dedup key) is what makes "at most" hold under races.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timedelta

WELCOME = "welcome"
SELF_ASSESSMENT = "self_assessment"
NEXT_STEP = "next_step"
LEVEL_UP = "level_up"
KINDS = (WELCOME, SELF_ASSESSMENT, NEXT_STEP, LEVEL_UP)

ONCE = "once"
SELF_ASSESSMENT_AFTER = timedelta(days=2)
# The sweep also sends a welcome that the email-confirmed hook missed, but only to recent
# signups, so that turning nudges on never greets a whole existing roster.
WELCOME_WITHIN = timedelta(days=2)
NO_PROGRESS_FOR = timedelta(days=7)
NEXT_STEP_EVERY_DAYS = 7
NEXT_STEP_LOCAL_HOUR = 9

# Why a rule that fired still sends nothing.
OPTED_OUT = "opted out"
UNVERIFIED = "address not verified"


@dataclass(frozen=True)
class LearnerFacts:
    """What the rules need to know about one learner, read in bulk by the sweep."""

    learner_id: int
    signed_up_at: datetime
    timezone: str = "UTC"
    verified: bool = False
    nudges_enabled: bool = True
    has_assessment: bool = False
    last_activity_at: datetime | None = None
    # Latest ledger row of each kind (any status): "once" kinds only need to know one exists.
    last_nudge_at: dict[str, datetime] | None = None


@dataclass(frozen=True)
class Decision:
    learner_id: int
    kind: str
    dedup_key: str
    skip_reason: str = ""  # set when the timing rule fired but nothing may be sent

    @property
    def due(self) -> bool:
        return not self.skip_reason


def learner_zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def local_time(now: datetime, zone_name: str) -> datetime:
    """``now`` (aware) as wall-clock time in the learner's zone; DST comes from tzdata."""
    return now.astimezone(learner_zone(zone_name))


def next_step_dedup_key(local_day: date) -> str:
    """ISO week of the learner's local date: two next_step rows can never share a week."""
    year, week, _ = local_day.isocalendar()
    return f"{year}-W{week:02d}"


def level_up_dedup_key(level: int) -> str:
    return f"level-{level}"


def skip_reason(facts: LearnerFacts) -> str:
    if not facts.nudges_enabled:
        return OPTED_OUT
    if not facts.verified:
        return UNVERIFIED
    return ""


def decide(facts: LearnerFacts, now: datetime) -> list[Decision]:
    """The sweep's nudges for one learner at ``now`` (aware), due ones and skipped ones.

    ``level_up`` is not decided here: it is created when the level goes up (see
    ``level_up_decision``).
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    last = facts.last_nudge_at or {}
    reason = skip_reason(facts)
    decisions = []

    if WELCOME not in last and facts.verified and now - facts.signed_up_at <= WELCOME_WITHIN:
        decisions.append(Decision(facts.learner_id, WELCOME, ONCE, reason))

    if (
        SELF_ASSESSMENT not in last
        and not facts.has_assessment
        and now - facts.signed_up_at >= SELF_ASSESSMENT_AFTER
    ):
        decisions.append(Decision(facts.learner_id, SELF_ASSESSMENT, ONCE, reason))

    # Without a self-assessment there is no track, so no next step to name: the
    # self_assessment reminder is that learner's nudge.
    local_now = local_time(now, facts.timezone)
    if (
        facts.has_assessment
        and local_now.hour == NEXT_STEP_LOCAL_HOUR
        and _quiet_for_a_week(facts, now, local_now)
    ):
        decisions.append(
            Decision(facts.learner_id, NEXT_STEP, next_step_dedup_key(local_now.date()), reason)
        )
    return decisions


def _quiet_for_a_week(facts: LearnerFacts, now: datetime, local_now: datetime) -> bool:
    last_progress = facts.last_activity_at or facts.signed_up_at
    if now - last_progress < NO_PROGRESS_FOR:
        return False
    last_next_step = (facts.last_nudge_at or {}).get(NEXT_STEP)
    if last_next_step is None:
        return True
    # Counted in the learner's calendar days, so that a sweep running a few seconds
    # earlier next week still finds the week complete.
    last_day = local_time(last_next_step, facts.timezone).date()
    return (local_now.date() - last_day).days >= NEXT_STEP_EVERY_DAYS


def welcome_decision(facts: LearnerFacts) -> Decision | None:
    """The welcome once the address is verified (the email-confirmed hook)."""
    if WELCOME in (facts.last_nudge_at or {}) or not facts.verified:
        return None
    return Decision(facts.learner_id, WELCOME, ONCE, skip_reason(facts))


def level_up_decision(facts: LearnerFacts, *, from_level: int | None, to_level: int) -> Decision:
    """A level_up for reaching ``to_level``; only when it went up."""
    if from_level is not None and to_level <= from_level:
        raise ValueError("the level did not go up")
    return Decision(facts.learner_id, LEVEL_UP, level_up_dedup_key(to_level), skip_reason(facts))


def manual_next_step_decision(facts: LearnerFacts, now: datetime) -> Decision:
    """An instructor's "send a next-step nudge now": at most once per learner-local day."""
    local_day = local_time(now, facts.timezone).date()
    return Decision(
        facts.learner_id, NEXT_STEP, f"manual-{local_day.isoformat()}", skip_reason(facts)
    )
