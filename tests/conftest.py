from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The curriculum rules are cached; a test's rolled-back edits must not leak."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def curriculum(db):
    """The curriculum as the placement rule sees it (loaded by the data migration)."""
    from curriculum.selectors import curriculum_rules

    return curriculum_rules(fresh=True)
