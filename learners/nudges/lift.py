"""The statistics of a lift report, pure: Wilson score intervals for each group's share and
Newcombe's hybrid score interval (method 10 of Newcombe 1998) for their difference.

Newcombe/Wilson rather than the textbook Wald interval: with shares near 0 or 1 and small
hold-out groups the Wald interval is too narrow and can leave [0, 1]; Newcombe's interval
keeps close to its nominal 95 % coverage down to small groups.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Share:
    hits: int
    n: int

    @property
    def value(self) -> float | None:
        return self.hits / self.n if self.n else None


def wilson(hits: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a share ``hits / n``."""
    if n <= 0:
        raise ValueError("n must be positive")
    p = hits / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(
    hits_a: int, n_a: int, hits_b: int, n_b: int, z: float = Z95
) -> tuple[float, float, float]:
    """The difference of two shares ``a - b`` and its hybrid score interval."""
    p_a, p_b = hits_a / n_a, hits_b / n_b
    low_a, high_a = wilson(hits_a, n_a, z)
    low_b, high_b = wilson(hits_b, n_b, z)
    d = p_a - p_b
    low = d - math.sqrt((p_a - low_a) ** 2 + (high_b - p_b) ** 2)
    high = d + math.sqrt((high_a - p_a) ** 2 + (p_b - low_b) ** 2)
    return d, low, high
