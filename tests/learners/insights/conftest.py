from __future__ import annotations

import pytest

from .seed import Seeded, seed_cohort


@pytest.fixture
def seeded(db) -> Seeded:
    """The cohort of ``seed.py``, whose insights are worked out by hand there."""
    return seed_cohort()
