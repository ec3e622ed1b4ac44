"""A student's own pace: "at your pace over the last four weeks (3 keys a week) you would
finish Surviving's keys around 12 January". Plain Python (no Django).

Only when the history allows it: the learner started at least ``WINDOW_DAYS`` ago, ticked at
least ``MIN_KEYS`` keys of their level in that window, has keys left, and the date is within
``HORIZON_DAYS``. It speaks of keys and dates, never of pay or revenue.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

WINDOW_DAYS = 28
MIN_KEYS = 2
HORIZON_DAYS = 365


@dataclass(frozen=True)
class Pace:
    keys_per_week: float
    remaining: int
    finish_on: date
    level_name: str
    today: date  # the learner's local date when estimated

    @property
    def rate_words(self) -> str:
        rate = self.keys_per_week
        number = f"{rate:.0f}" if rate == int(rate) else f"{rate:.1f}".rstrip("0")
        return f"{number} key{'' if rate == 1 else 's'} a week"

    @property
    def finish_words(self) -> str:
        """ "12 January", with the year when it is not this year's."""
        day = f"{self.finish_on.day} {self.finish_on:%B}"
        return day if self.finish_on.year == self.today.year else f"{day} {self.finish_on.year}"


def pace_estimate(
    *,
    ticked_at: Iterable[datetime],
    remaining: int,
    started_at: datetime | None,
    now: datetime,
    today: date,
    level_name: str,
) -> Pace | None:
    """``ticked_at``: when each key of the learner's level was ticked; ``remaining``: keys of
    the level still to tick; ``today``: the learner's local date."""
    if started_at is None or remaining <= 0 or now - started_at < timedelta(days=WINDOW_DAYS):
        return None
    since = now - timedelta(days=WINDOW_DAYS)
    recent = sum(1 for moment in ticked_at if since <= moment <= now)
    if recent < MIN_KEYS:
        return None
    per_week = recent * 7 / WINDOW_DAYS
    days = math.ceil(remaining / per_week * 7)
    if days > HORIZON_DAYS:
        return None
    return Pace(
        keys_per_week=round(per_week, 1),
        remaining=remaining,
        finish_on=today + timedelta(days=days),
        level_name=level_name,
        today=today,
    )
