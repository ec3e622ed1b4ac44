"""The insights rules on plain data (no database): the edges the seeded cohort leaves out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from learners.insights.rules import (
    Course,
    Journey,
    level_funnel,
    module_funnel,
    stuck_point_of,
    stuck_points,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
COURSE = Course(
    level_names={1: "Struggling", 2: "Surviving", 3: "Thriving", 4: "Driving"},
    module_titles={n: f"Title {n}" for n in range(1, 10)},
    keys={1: (("e-1-01", "One"), ("e-1-02", "Two")), 2: (), 3: (), 4: ()},
)


def journey(n: int, **fields) -> Journey:
    defaults = {
        "learner_id": n,
        "cohort_id": None,
        "level": 1,
        "placed_level": 1,
        "placed_at": T0,
        "ticked": True,
        "inactive": True,
    }
    return Journey(**{**defaults, **fields})


def test_only_the_five_most_common_stuck_points_most_learners_first():
    journeys = [
        journey(100 * number + i, furthest_module=number)
        for number in range(1, 8)
        for i in range(number)  # module 7: 7 learners ... module 1: 1
    ]
    points = stuck_points(journeys, COURSE)
    assert [(p.code, p.learners) for p in points] == [
        ("m7", 7),
        ("m6", 6),
        ("m5", 5),
        ("m4", 4),
        ("m3", 3),
    ]


def test_who_has_no_stuck_point():
    assert stuck_point_of(journey(1, furthest_module=9), COURSE) is None  # the course is done
    assert stuck_point_of(journey(2, furthest_module=3, inactive=False), COURSE) is None
    assert stuck_point_of(journey(3, ticked=False), COURSE) is None  # never started
    assert stuck_point_of(journey(4, placed_level=None, placed_at=None), COURSE) is None
    # The last key of the level: nothing after it to name.
    code, last, following = stuck_point_of(journey(5, furthest_key="e-1-02"), COURSE)
    assert (code, last) == ("ke-1-02", "Key e-1-02: Two")
    assert following == "the level's keys are all ticked"


def test_reaching_a_level_counts_only_from_below_and_after_placement():
    journeys = [
        # Placed at 2, later at 3: reached 3, not 2 (placed there).
        journey(1, placed_level=2, reached_at={2: T0, 3: T0 + timedelta(days=9)}),
        # Placed at 1, reached 2 in 3 days and 12 hours.
        journey(2, reached_at={2: T0 + timedelta(days=3, hours=12)}),
    ]
    rows = {row.level: row for row in level_funnel(journeys, COURSE).rows}
    assert (rows[2].placed, rows[2].reached, rows[2].median_days) == (1, 1, 3.5)
    assert (rows[3].reached, rows[3].median_days) == (1, 9.0)


def test_the_module_funnel_never_loses_more_than_it_reached():
    journeys = [journey(n, furthest_module=n % 10 or None) for n in range(1, 40)]
    rows = module_funnel(journeys, COURSE, finished={})
    assert rows[0].reached == 39
    for previous, row in zip(rows, rows[1:], strict=False):
        assert row.reached <= previous.reached
        assert row.lost == previous.reached - row.reached >= 0
