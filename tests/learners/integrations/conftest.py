from __future__ import annotations

import pytest

from learners.integrations.models import ApiScope
from learners.integrations.services.api_keys import api_key_create


@pytest.fixture
def write_key(db) -> str:
    return api_key_create(name="Zapier", scope=ApiScope.WRITE)[1]


@pytest.fixture
def read_key(db) -> str:
    return api_key_create(name="Dashboard", scope=ApiScope.READ)[1]


def bearer(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


# The nudges' real-Redis fixture (a Redis database per xdist worker), for the worker test.
from tests.learners.nudges.conftest import redis_broker_url  # noqa: E402, F401
