"""When a nudge is due: pure rules over plain data, the clock passed in.

PRODUCT.md "Nudges":

- welcome: after the email address is verified; once.
- self_assessment: self-assessment still missing 2 days after signup; once.
- next_step: no progress for 7 days and no next_step in the last 7 days, at 09:00-09:59 in
  the learner's time zone; once a week (only once there is a self-assessment: its track
  is what names the next step).
- placement: the first placement after the learner's own self-assessment: where they start
  and why (never a congratulation); once; with the welcome when both are due.
- level_up: the level went up after the first placement; once per level reached.

placement and level_up are the learner's own events: outside the weekly cap (they neither
wait for it nor count toward it), inside quiet hours.

The dedup key of each kind is made here and only here; the ledger's unique constraint on
(learner, kind, dedup key) is what makes "at most" hold under races.
"""

from __future__ import annotations

import hashlib
import hmac
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

WELCOME = "welcome"
SELF_ASSESSMENT = "self_assessment"
NEXT_STEP = "next_step"
LEVEL_UP = "level_up"
PLACEMENT = "placement"
KINDS = (WELCOME, SELF_ASSESSMENT, NEXT_STEP, LEVEL_UP, PLACEMENT)
# Sent at most once ever: nothing for a learner to choose on their preference page.
ONE_TIME_KINDS = (WELCOME, SELF_ASSESSMENT, PLACEMENT)
# The learner's own events: they go out promptly, neither held by the weekly cap nor
# counted in it.
CAP_EXEMPT_KINDS = (PLACEMENT, LEVEL_UP)

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
# Why a nudge whose reason is gone by the time it would go out is skipped.
PROGRESSED = "progressed"
FINISHED = "finished"
LEVELLED_UP = "levelled up"
DELETED = "deleted"
SUPERSEDED = "superseded"
LEVEL_WENT_DOWN = "level went down"
# A row decided outside the running experiment (under an ended one, or none) whose learner
# is in the running experiment's hold-out: never sent.
HELD_OUT_NOW = "held out of the running experiment"

# Experiments: only these kinds can have one (welcome and level_up are transactional).
DEFAULT_HOLDOUT_PERCENT = 10
EXPERIMENT_KINDS = (SELF_ASSESSMENT, NEXT_STEP)
# The dedup key of an instructor's "send now": those rows are in no experiment.
MANUAL_PREFIX = "manual-"
# The dedup key of a level_up: the level reached.
LEVEL_UP_PREFIX = "level-"

# The budget on everything a learner receives.
DEFAULT_WEEKLY_CAP = 2
CAP_WINDOW = timedelta(days=7)
DEFAULT_QUIET_START = time(21, 0)
DEFAULT_QUIET_END = time(8, 0)
# When several are due at once, the email is the first of these kinds; the others' reasons
# are listed in it (each template already carries the next steps).
# The welcome leads a placement due with it: with a self-assessment it says where the
# learner starts and why.
COMBINE_ORDER = (LEVEL_UP, WELCOME, PLACEMENT, NEXT_STEP, SELF_ASSESSMENT)


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
    kinds_off: frozenset[str] = field(default_factory=frozenset)


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
    return f"{LEVEL_UP_PREFIX}{level}"


def level_of(dedup_key: str) -> int | None:
    """The level a level_up's dedup key names (None for a key not made by the rules)."""
    number = dedup_key.removeprefix(LEVEL_UP_PREFIX)
    return int(number) if number.isdigit() else None


def manual_dedup_key(local_day: date) -> str:
    """An instructor's "send now": one a local day, apart from the sweep's weekly key."""
    return f"{MANUAL_PREFIX}{local_day.isoformat()}"


def is_manual(dedup_key: str) -> bool:
    """Whether the key is an instructor's "send now" (``manual_dedup_key``)."""
    return dedup_key.startswith(MANUAL_PREFIX)


def skip_reason(facts: LearnerFacts, kind: str | None = None) -> str:
    if not facts.nudges_enabled or kind in facts.kinds_off:
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
        decisions.append(Decision(facts.learner_id, WELCOME, ONCE, reason or _off(facts, WELCOME)))

    if (
        SELF_ASSESSMENT not in last
        and not facts.has_assessment
        and now - facts.signed_up_at >= SELF_ASSESSMENT_AFTER
    ):
        decisions.append(
            Decision(
                facts.learner_id, SELF_ASSESSMENT, ONCE, reason or _off(facts, SELF_ASSESSMENT)
            )
        )

    # Without a self-assessment there is no track, so no next step to name: the
    # self_assessment reminder is that learner's nudge.
    local_now = local_time(now, facts.timezone)
    if (
        facts.has_assessment
        and local_now.hour == NEXT_STEP_LOCAL_HOUR
        and _quiet_for_a_week(facts, now, local_now)
    ):
        decisions.append(
            Decision(
                facts.learner_id,
                NEXT_STEP,
                next_step_dedup_key(local_now.date()),
                reason or _off(facts, NEXT_STEP),
            )
        )
    return decisions


def _off(facts: LearnerFacts, kind: str) -> str:
    return OPTED_OUT if kind in facts.kinds_off else ""


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
    return Decision(facts.learner_id, WELCOME, ONCE, skip_reason(facts, WELCOME))


def level_up_decision(facts: LearnerFacts, *, from_level: int | None, to_level: int) -> Decision:
    """A level_up for reaching ``to_level``; only when it went up (a first placement, from
    no level, never is a level-up)."""
    if from_level is None:
        raise ValueError("a placement is not a level-up")
    if to_level <= from_level:
        raise ValueError("the level did not go up")
    return Decision(
        facts.learner_id, LEVEL_UP, level_up_dedup_key(to_level), skip_reason(facts, LEVEL_UP)
    )


def placement_decision(facts: LearnerFacts) -> Decision | None:
    """Where the learner starts, once, after their first self-assessment placed them."""
    if PLACEMENT in (facts.last_nudge_at or {}):
        return None
    return Decision(facts.learner_id, PLACEMENT, ONCE, skip_reason(facts, PLACEMENT))


def manual_next_step_decision(facts: LearnerFacts, now: datetime) -> Decision:
    """An instructor's "send a next-step nudge now": at most once per learner-local day."""
    local_day = local_time(now, facts.timezone).date()
    return Decision(
        facts.learner_id,
        NEXT_STEP,
        manual_dedup_key(local_day),
        skip_reason(facts, NEXT_STEP),
    )


# Hold-out groups ----------------------------------------------------------------------------


def in_experiment(kind: str, dedup_key: str) -> bool:
    """Whether a decision belongs to its kind's experiment: only kinds that can have one,
    and never an instructor's "send now"."""
    return kind in EXPERIMENT_KINDS and not is_manual(dedup_key)


def held_out(*, key: bytes, learner_id: int, percent: int) -> bool:
    """Whether the learner is in the hold-out at ``percent``, in nested buckets: a keyed
    hash (HMAC-SHA256 with the kind's key) of the learner, read as a fraction of 2**64,
    below ``percent`` / 100. Unpredictable without the key (no one can steer who is held
    out). The bucket depends only on the learner and the kind's key, so a learner never
    flips within an experiment, raising the share only moves treated learners into the
    hold-out and lowering it only moves held-out learners back."""
    digest = hmac.new(key, str(learner_id).encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") * 100 < percent * 2**64


# The budget ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    weekly_cap: int = DEFAULT_WEEKLY_CAP
    quiet_start: time = DEFAULT_QUIET_START
    quiet_end: time = DEFAULT_QUIET_END


def quiet_until(now: datetime, zone_name: str, budget: Budget) -> datetime | None:
    """The end of the quiet hours ``now`` falls in, in the learner's zone (aware, UTC), or
    None outside them. A window across midnight (21:00-08:00) ends the next morning."""
    start, end = budget.quiet_start, budget.quiet_end
    if start == end:
        return None
    zone = learner_zone(zone_name)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside, day = start <= clock < end, local.date()
    elif clock >= start:
        inside, day = True, local.date() + timedelta(days=1)
    else:
        inside, day = clock < end, local.date()
    if not inside:
        return None
    # Wall-clock end; a DST gap at that hour moves it on by the gap (fold 0).
    return datetime.combine(day, end, tzinfo=zone).astimezone(now.tzinfo)


def cap_until(sent_at: list[datetime], now: datetime, cap: int) -> datetime | None:
    """When one more email fits the cap (at most ``cap`` in any window (t - 7 days, t]),
    given the learner's emails so far; None when one fits now."""
    window = sorted(t for t in sent_at if now - CAP_WINDOW < t <= now)
    if len(window) < cap:
        return None
    if cap <= 0:
        return now + CAP_WINDOW  # a cap of 0 pauses every nudge: checked again in a week
    return window[len(window) - cap] + CAP_WINDOW


# Relevance just before sending -----------------------------------------------------------------


@dataclass(frozen=True)
class SendFacts:
    """What is true of the learner just before a nudge goes out."""

    active: bool = True
    nudges_enabled: bool = True
    kinds_off: frozenset[str] = field(default_factory=frozenset)
    verified: bool = True
    has_assessment: bool = False
    last_activity_at: datetime | None = None
    level: int = 1
    level_changed_at: datetime | None = None
    nothing_left: bool = False  # at the top with every key done: no next step to name


def stale_reason(kind: str, dedup_key: str, decided_at: datetime, facts: SendFacts) -> str:
    """Why a nudge decided at ``decided_at`` must not go out now ('' when it still should)."""
    if not facts.active:
        return DELETED
    if not facts.nudges_enabled or kind in facts.kinds_off:
        return OPTED_OUT
    if not facts.verified:
        return UNVERIFIED
    moved_up = facts.level_changed_at is not None and facts.level_changed_at > decided_at
    if kind == SELF_ASSESSMENT and facts.has_assessment:
        return PROGRESSED
    if kind == NEXT_STEP:
        if facts.nothing_left:
            return FINISHED
        if facts.last_activity_at is not None and facts.last_activity_at > decided_at:
            return PROGRESSED
        if moved_up:
            return LEVELLED_UP
    reached = level_of(dedup_key) if kind == LEVEL_UP else None
    if reached is not None and reached != facts.level:
        # Reached a higher level since (its own level_up carries the news), or fell back.
        return LEVELLED_UP if facts.level > reached else LEVEL_WENT_DOWN
    return ""


def combine_order(kind: str) -> int:
    return COMBINE_ORDER.index(kind) if kind in COMBINE_ORDER else len(COMBINE_ORDER)
