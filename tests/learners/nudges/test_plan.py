"""The experiment plan and its reading, pure: sample size and its inverse against statsmodels,
the sample-ratio check against scipy, nested hold-out buckets, and seeded simulations of the
report's decision rule (``learners.nudges.plan``): daily looks under no effect, and a planted
lift at the planned number of learners.

References: statsmodels 0.15 ``samplesize_proportions_2indep_onetail`` (Fleiss' sample size
for two independent proportions, pooled variance under the null); scipy ``stats.chisquare``.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from learners.nudges import plan, rules
from learners.nudges.lift import Share, newcombe

statsmodels_proportion = pytest.importorskip("statsmodels.stats.proportion")
scipy_stats = pytest.importorskip("scipy.stats")


GRID = [
    (baseline, lift, share)
    for baseline in (0.05, 0.15, 0.30, 0.50, 0.80)
    for lift in (0.02, 0.03, 0.05, 0.10, 0.15)
    for share in (0.05, 0.10, 0.20, 0.30, 0.50, 0.70)
    if baseline + lift < 1
]


def statsmodels_total(baseline: float, lift: float, share: float) -> float:
    """Both groups, from statsmodels' per-group size (nobs1 = treated, ratio = held / treated)."""
    ratio = share / (1 - share)
    treated = statsmodels_proportion.samplesize_proportions_2indep_onetail(
        lift, baseline, 0.80, ratio=ratio, alpha=0.05, alternative="two-sided"
    )
    return treated * (1 + ratio)


@pytest.mark.parametrize(("baseline", "lift", "share"), GRID)
def test_planned_learners_match_statsmodels(baseline, lift, share):
    expected = statsmodels_total(baseline, lift, share)
    assert plan.planned_learners(baseline, lift, share) == math.ceil(expected - 1e-9)


@pytest.mark.parametrize(
    ("baseline", "learners", "share"),
    [
        (0.30, 1000, 0.10),
        (0.30, 2000, 0.20),
        (0.10, 5000, 0.50),
        (0.60, 800, 0.30),
    ],
)
def test_detectable_lift_is_the_inverse(baseline, learners, share):
    lift = plan.detectable_lift(baseline, learners, share)
    assert statsmodels_total(baseline, lift, share) == pytest.approx(learners, rel=1e-6)


def test_the_figures_an_instructor_is_shown():
    """30 % progress within 14 days, 10 % held out (the defaults): ~1,000 learners detect
    14.3 points; a 3-point lift needs 21,063 learners at 10 %, 11,827 at 20 %, 7,525 at 50 %;
    the default plan (10 points) needs 2,009."""
    assert round(100 * plan.detectable_lift(0.30, 1000, 0.10), 1) == 14.3
    assert [plan.planned_learners(0.30, 0.03, s) for s in (0.1, 0.2, 0.5)] == [21063, 11827, 7525]
    assert plan.planned_learners(0.30, 0.10, 0.10) == 2009


def test_bad_plans_are_refused():
    for args in (
        (0.0, 0.1, 0.1),
        (0.3, 0.1, 0.0),
        (0.3, 0.1, 1.0),
        (0.3, 0.0, 0.1),
        (0.95, 0.1, 0.1),
    ):
        with pytest.raises(ValueError):
            plan.planned_learners(*args)
    assert plan.detectable_lift(0.30, 0, 0.10) is None
    assert plan.detectable_lift(0.30, 3, 0.10) is None  # nothing is detectable with 3


@pytest.mark.parametrize(
    ("treated", "held_out", "share"),
    [
        (900, 100, 0.10),
        (930, 70, 0.10),
        (1000, 0, 0.10),
        (520, 480, 0.50),
        (45, 55, 0.20),
    ],
)
def test_sample_ratio_matches_scipy(treated, held_out, share):
    total = treated + held_out
    reference = scipy_stats.chisquare([treated, held_out], [total * (1 - share), total * share])
    ours = plan.sample_ratio(treated, held_out, share)
    assert ours.chi_square == pytest.approx(reference.statistic, rel=1e-12)
    assert ours.p_value == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-300)
    assert ours.flagged == (reference.pvalue < 0.001)


def test_nested_buckets_raising_the_share_only_moves_treated_learners_into_the_hold_out():
    key = b"k" * 32
    ids = range(1, 20001)
    held = {
        p: {i for i in ids if rules.held_out(key=key, learner_id=i, percent=p)}
        for p in (0, 10, 20, 50, 100)
    }
    assert held[0] == set() and held[100] == set(ids)
    assert held[10] <= held[20] <= held[50]
    # About the share each (20,000 learners: 3 standard errors is about 0.6-1.1 points).
    for p in (10, 20, 50):
        assert abs(len(held[p]) / 20000 - p / 100) < 0.011
    # Another kind's key draws another, independent split.
    other = {i for i in ids if rules.held_out(key=b"j" * 32, learner_id=i, percent=10)}
    assert abs(len(other & held[10]) / 20000 - 0.01) < 0.003


def test_only_the_sweep_decisions_of_experiment_kinds_are_in_an_experiment():
    assert rules.in_experiment(rules.NEXT_STEP, "2026-W20")
    assert rules.in_experiment(rules.SELF_ASSESSMENT, rules.ONCE)
    assert not rules.in_experiment(rules.NEXT_STEP, "manual-2026-05-01")
    assert not rules.in_experiment(rules.WELCOME, rules.ONCE)
    assert not rules.in_experiment(rules.LEVEL_UP, "level-2")


# Simulations of the report's decision rule ------------------------------------------------------

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PER_DAY = 60  # learners decided a day (a daily sweep)
WINDOW = plan.outcome(plan.DEFAULT_PRIMARY).window
LOOK_DAYS = 60  # the instructor looks every day for two months


def schedule(planned: int) -> list[tuple[int, str, int | None]]:
    """The report's rule at each daily look: (day, state, the last day of the analysis
    sample). Learners arrive PER_DAY a day in every run, so this part of the rule reads the
    same decision times in every run and is evaluated once."""
    looks = []
    for look in range(1, LOOK_DAYS + 1):
        decided = PER_DAY * (look + 1)  # days 0..look
        times = [START + timedelta(days=i // PER_DAY) for i in range(decided)]
        reached = plan.plan_reached_at(times, planned)
        state = plan.plan_state(
            decided=decided,
            planned=planned,
            plan_reached_at=reached,
            window=WINDOW,
            now=START + timedelta(days=look),
            ended=False,
        )
        looks.append((look, state, None if reached is None else (reached - START).days))
    return looks


def simulate(rng: random.Random, looks, *, share: float, base: float, lift: float):
    """One experiment looked at daily: (the direction the report's verdict showed at any
    look, '' for none; whether a naive read of every mature learner at each look showed a
    difference, as the old report did)."""
    days = LOOK_DAYS - WINDOW.days + 1
    # Cumulative counts up to the end of each day: treated n, treated hits, held n, held hits.
    cumulative = [(0, 0, 0, 0)]
    t_n = t_hits = h_n = h_hits = 0
    for _ in range(days):
        for _ in range(PER_DAY):
            if rng.random() < share:
                h_n += 1
                h_hits += rng.random() < base
            else:
                t_n += 1
                t_hits += rng.random() < base + lift
        cumulative.append((t_n, t_hits, h_n, h_hits))

    def up_to(day: int) -> tuple[int, int, int, int]:
        return cumulative[max(0, min(day + 1, days))]

    ours, naive = "", False
    for look, state, sample_day in looks:
        counts = up_to(sample_day) if sample_day is not None else (0, 0, 0, 0)
        verdict = plan.verdict(state, Share(counts[1], counts[0]), Share(counts[3], counts[2]))
        ours = ours or verdict.direction
        t_n, t_hits, h_n, h_hits = up_to(look - WINDOW.days)
        if min(t_n, h_n) >= 50 and not naive:
            _, low, high = newcombe(t_hits, t_n, h_hits, h_n)
            naive = low > 0 or high < 0
    return ours, naive


def test_daily_looks_under_no_effect_show_a_verdict_at_most_5_percent_of_the_time():
    """2,000 seeded experiments with no effect (30 % either way, 20 % held out, planned for
    a 10-point lift: 1,127 learners, 60 decided a day), each looked at daily for 60 days
    (the answer is due on day 32: 29 looks after it). The report's rule shows a difference
    in 103 of 2,000 (5.15 %; bound 5 % + 2 Monte Carlo standard errors = 5.97 %); reading
    every mature learner at each look, as the old report did, shows one in 521 (26.1 %)."""
    runs = 2000
    looks = schedule(plan.planned_learners(0.30, 0.10, 0.20))
    assert [state for _, state, _ in looks].count(plan.READY) >= 25  # many looks after
    ours = naive = 0
    for seed in range(runs):
        shown, peeked = simulate(random.Random(seed), looks, share=0.20, base=0.30, lift=0.0)
        ours += bool(shown)
        naive += peeked
    bound = 0.05 + 2 * math.sqrt(0.05 * 0.95 / runs)
    print(f"no effect: report {ours}/{runs}, naive daily {naive}/{runs}")
    assert ours / runs <= bound
    assert naive / runs > bound  # the simulation does catch peeking
    assert (ours, naive) == (103, 521)


def test_a_planted_lift_is_found_at_the_planned_power():
    """2,000 seeded experiments with a real 10-point lift (30 % -> 40 %), planned for it:
    the report's verdict finds it (interval above 0) in 1,612 (80.6 %; 80 % +- 2 Monte Carlo
    standard errors is 78.2-81.8 %)."""
    runs = 2000
    looks = schedule(plan.planned_learners(0.30, 0.10, 0.20))
    found = sum(
        simulate(random.Random(10_000 + seed), looks, share=0.20, base=0.30, lift=0.10)[0]
        == "higher"
        for seed in range(runs)
    )
    error = math.sqrt(0.8 * 0.2 / runs)
    print(f"planted lift: found {found}/{runs}")
    assert abs(found / runs - 0.80) <= 2 * error
    assert found == 1612
