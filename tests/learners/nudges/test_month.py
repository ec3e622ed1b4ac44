"""A month of nudges, hour by hour, for synthetic learners across time zones (see ``month``):
never above the weekly cap in any rolling 7 days, nothing in quiet hours, nothing twice,
nothing lost, nothing of a kind to a learner held out of its experiment.

The suite runs it at ``MONTH_LEARNERS`` learners (default 200: about 15 s on SQLite, 30 s on PostgreSQL);
``bench/nudge_month.py`` runs it at 10,000 on PostgreSQL.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from learners.nudges import rules

from . import month

LEARNERS = int(os.environ.get("MONTH_LEARNERS", "200"))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_month_hour_by_hour_keeps_every_promise(settings):
    settings.EMAIL_BACKEND = month.BACKEND
    settings.CELERY_TASK_ALWAYS_EAGER = True
    run = month.simulate(month.plan(LEARNERS, seed=13))
    figures = month.check(run)
    print(figures)  # shown with -s; the bench records the same figures
    assert figures.hours == (month.DAYS * 24) + month.DRAIN.days * 24
    # The month exercised what it checks, so that the checks could have failed.
    assert figures.sent_by_kind[rules.NEXT_STEP] and figures.sent_by_kind[rules.LEVEL_UP]
    assert figures.sent_by_kind[rules.WELCOME] and figures.sent_by_kind[rules.SELF_ASSESSMENT]
    assert figures.held_out_by_kind[rules.NEXT_STEP]
    assert figures.deferred_quiet, "no nudge waited for the end of quiet hours"
    assert figures.deferred_then_sent > figures.deferred_quiet, "the cap never deferred one"
    assert figures.max_emails_in_7_days == month.WEEKLY_CAP and figures.learners_at_the_cap
    assert figures.skipped, "no reason was ever gone by sending time"


def test_the_oracle_catches_quiet_hours_and_a_cap_broken_by_a_second():
    """The checks could fail: 21:00 in Tokyo is quiet, 20:59 is not; three emails within
    7 days less a second break a cap of two, three over exactly 7 days do not."""
    tokyo_9pm = datetime(2026, 3, 2, 12, tzinfo=UTC)
    with pytest.raises(AssertionError, match="local time in Asia/Tokyo"):
        month.assert_outside_quiet_hours(tokyo_9pm, "Asia/Tokyo")
    month.assert_outside_quiet_hours(tokyo_9pm - timedelta(minutes=1), "Asia/Tokyo")
    week = timedelta(days=7)
    assert month.most_in_a_window([tokyo_9pm, tokyo_9pm + week, tokyo_9pm + 2 * week]) == 1
    assert month.most_in_a_window([tokyo_9pm, tokyo_9pm + timedelta(days=3), tokyo_9pm + week]) == 2
    late = [tokyo_9pm, tokyo_9pm + timedelta(days=1), tokyo_9pm + week - timedelta(seconds=1)]
    assert month.most_in_a_window(late) == 3
