"""Planning and reading an experiment, pure (no Django): how many learners it needs, what
it can detect, when its one answer is due, the answer itself, and the sample-ratio check.

Fixed horizon, one primary outcome. The instructor plans the number of learners before the
experiment starts (80 % power, 5 % two-sided); the report gives no verdict until that many
learners are decided and their primary window has passed, and then reads the verdict on
exactly those learners (the ones decided up to the moment the plan was reached), so looking
every day cannot manufacture a winner: each look after the plan shows the same answer.

Sample size: the two-sample test of proportions with the normal approximation, the
pooled variance under "no difference" and each group's own variance under the lift, for an
unequal split (Fleiss, Statistical Methods for Rates and Proportions, 3rd ed., 4.2):

    n = (z_{1-alpha/2} sqrt(pq (1/s + 1/(1-s))) + z_power sqrt(p1 q1/(1-s) + p0 q0/s))^2
        / (p1 - p0)^2

where ``p0`` is the baseline (held-out) rate, ``p1 = p0 + lift`` the treated rate, ``s`` the
hold-out share and ``p = (1-s) p1 + s p0`` the pooled rate; ``n`` counts both groups.
statsmodels' ``samplesize_proportions_2indep_onetail`` (the same formula per group) is the
reference in the tests. Simulated, the report's Newcombe rule reaches 79-81 % power at this
``n`` (each group's own variance alone, the "Wald" form, plans 5-8 % fewer learners and
reaches only 78 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import NormalDist

from .lift import Share, newcombe

ALPHA = 0.05
POWER = 0.80
# The sample-ratio check flags a split this unlikely under the planned share (as Statsig,
# Optimizely and Microsoft's ExP do: a mismatch is a broken experiment, not an effect).
SRM_ALPHA = 0.001
# What a planned experiment assumes when the ledger has too few decisions to say.
DEFAULT_BASELINE = 0.30
DEFAULT_MIN_LIFT = 0.10
# Fewer mature decisions than this and the ledger's baseline is not used.
MIN_BASELINE_SAMPLE = 50


def _check(baseline: float, share: float) -> None:
    if not 0 < baseline < 1:
        raise ValueError("The baseline rate must be between 0 and 1 (exclusive).")
    if not 0 < share < 1:
        raise ValueError("The hold-out share must be between 0 and 1 (exclusive).")


def _needed(baseline: float, lift: float, share: float, alpha: float, power: float) -> float:
    normal = NormalDist()
    treated = baseline + lift
    pooled = (1 - share) * treated + share * baseline
    null = math.sqrt(pooled * (1 - pooled) * (1 / share + 1 / (1 - share)))
    alternative = math.sqrt(
        treated * (1 - treated) / (1 - share) + baseline * (1 - baseline) / share
    )
    z_alpha, z_power = normal.inv_cdf(1 - alpha / 2), normal.inv_cdf(power)
    return (z_alpha * null + z_power * alternative) ** 2 / lift**2


def planned_learners(
    baseline: float, lift: float, share: float, *, alpha: float = ALPHA, power: float = POWER
) -> int:
    """Learners (both groups) needed to detect a lift of ``lift`` (a difference of rates,
    0.03 for 3 points) over ``baseline`` with a hold-out of ``share``."""
    _check(baseline, share)
    if lift == 0 or not 0 < baseline + lift < 1:
        raise ValueError("The lift must be non-zero and keep the treated rate within 0-1.")
    return math.ceil(_needed(baseline, lift, share, alpha, power))


def detectable_lift(
    baseline: float, learners: int, share: float, *, alpha: float = ALPHA, power: float = POWER
) -> float | None:
    """The smallest upward lift ``learners`` learners detect with the given power (the
    inverse of ``planned_learners``); None when no lift up to 100 % is detectable."""
    _check(baseline, share)
    if learners <= 0:
        return None
    low, high = 1e-9, 1 - baseline - 1e-9
    if _needed(baseline, high, share, alpha, power) > learners:
        return None
    # The learners needed fall as the lift grows over the range that matters: bisect.
    for _ in range(200):
        middle = (low + high) / 2
        if _needed(baseline, middle, share, alpha, power) > learners:
            low = middle
        else:
            high = middle
    return high


# The outcomes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeSpec:
    name: str
    label: str
    days: int

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.days)


# The outcomes an experiment can name as primary (the others are shown as secondary).
OUTCOMES = (
    OutcomeSpec("progress_7", "Any progress within 7 days", 7),
    OutcomeSpec("progress_14", "Any progress within 14 days", 14),
    OutcomeSpec("level_up_30", "Went up a level within 30 days", 30),
)
DEFAULT_PRIMARY = "progress_14"


def outcome(name: str) -> OutcomeSpec:
    for spec in OUTCOMES:
        if spec.name == name:
            return spec
    raise ValueError(f"Unknown outcome: {name!r}")


# The sample ratio -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleRatio:
    treated: int
    held_out: int
    share: float  # the planned hold-out share
    chi_square: float
    p_value: float

    @property
    def flagged(self) -> bool:
        return self.p_value < SRM_ALPHA

    @property
    def observed_share(self) -> float | None:
        total = self.treated + self.held_out
        return self.held_out / total if total else None


def sample_ratio(treated: int, held_out: int, share: float) -> SampleRatio:
    """Pearson's chi-square of the split against the planned hold-out share (1 degree of
    freedom: p = erfc(sqrt(chi2 / 2)))."""
    total = treated + held_out
    if total == 0 or not 0 < share < 1:
        return SampleRatio(treated, held_out, share, 0.0, 1.0)
    expected_held = total * share
    expected_treated = total - expected_held
    chi2 = (held_out - expected_held) ** 2 / expected_held + (
        treated - expected_treated
    ) ** 2 / expected_treated
    return SampleRatio(treated, held_out, share, chi2, math.erfc(math.sqrt(chi2 / 2)))


# The verdict ----------------------------------------------------------------------------------

WAITING = "waiting"  # the planned number of learners is not decided yet
MATURING = "maturing"  # it is, but their primary window has not passed yet
ENDED_SHORT = "ended short"  # the experiment ended before reaching its plan
READY = "ready"


@dataclass(frozen=True)
class Verdict:
    """The one answer of an experiment, on its primary outcome."""

    state: str
    treated: Share | None = None
    held_out: Share | None = None
    difference: float | None = None
    low: float | None = None  # its 95 % Newcombe interval
    high: float | None = None

    @property
    def shown(self) -> bool:
        return self.state == READY

    @property
    def direction(self) -> str:
        """'higher' / 'lower' (the email's group did better / worse), '' (no difference
        shown: the interval contains 0) or '' before the answer."""
        if not self.shown:
            return ""
        if self.low > 0:
            return "higher"
        if self.high < 0:
            return "lower"
        return ""


def plan_state(
    *,
    decided: int,
    planned: int,
    plan_reached_at: datetime | None,
    window: timedelta,
    now: datetime,
    ended: bool,
) -> str:
    """Where an experiment stands against its plan at ``now``."""
    if plan_reached_at is None or decided < planned:
        return ENDED_SHORT if ended else WAITING
    if now < plan_reached_at + window:
        return MATURING
    return READY


def verdict(state: str, treated: Share, held_out: Share) -> Verdict:
    """The answer on the analysis sample (the learners decided up to the moment the plan
    was reached); nothing but the state before it is ready."""
    if state != READY or not treated.n or not held_out.n:
        return Verdict(state if state != READY else WAITING)
    d, low, high = newcombe(treated.hits, treated.n, held_out.hits, held_out.n)
    return Verdict(READY, treated, held_out, d, low, high)


def plan_reached_at(decision_times: list[datetime], planned: int) -> datetime | None:
    """The moment the ``planned``-th learner was decided (the reference for the report's
    query): the analysis sample is every learner decided up to it."""
    if planned <= 0 or len(decision_times) < planned:
        return None
    return sorted(decision_times)[planned - 1]
