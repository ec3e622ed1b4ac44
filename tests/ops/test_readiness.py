"""/readyz: staff or token only; 200 when every part is up, 503 naming the part that is not."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from pyramid_site.health import LAST_SWEEP_KEY, record_sweep
from tests.factories import UserFactory
from tests.learners.nudges.conftest import free_port

TOKEN = "readiness-token-for-tests-0123456789"


@pytest.fixture(autouse=True)
def _embedded_default(settings):
    """No broker unless a test says so (CI's REDIS_URL would otherwise be the broker)."""
    settings.REDIS_URL = ""
    settings.CELERY_BROKER_URL = "memory://"


@pytest.fixture
def staff_client(client, db):
    client.force_login(UserFactory(is_staff=True))
    return client


def test_readiness_is_for_staff_or_a_token_only(client, db, settings):
    settings.READINESS_TOKEN = TOKEN

    assert client.get("/readyz").status_code == 403
    client.force_login(UserFactory(is_staff=False))
    assert client.get("/readyz").status_code == 403
    assert client.get("/readyz", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/readyz", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_the_embedded_default_is_ready(staff_client):
    response = staff_client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert set(body["checks"]) == {"database", "cache", "broker", "beat"}


def test_redis_down_answers_503_naming_the_cache_and_the_broker(staff_client, settings):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    settings.REDIS_URL = closed
    settings.CELERY_BROKER_URL = closed
    settings.CACHES = {
        "default": {
            "BACKEND": "pyramid_site.cache.RedisCache",
            "LOCATION": closed,
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5},
        }
    }

    started = time.monotonic()
    response = staff_client.get("/readyz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["ok"] is True
    assert checks["cache"]["ok"] is False
    assert checks["broker"]["ok"] is False
    assert time.monotonic() - started < 10


@pytest.mark.integration
def test_with_redis_it_reports_the_last_sweep_and_the_queue(
    staff_client, settings, redis_broker_url
):
    settings.REDIS_URL = redis_broker_url
    settings.CELERY_BROKER_URL = redis_broker_url
    settings.CACHES = {
        "default": {
            "BACKEND": "pyramid_site.cache.RedisCache",
            "LOCATION": redis_broker_url,
            "KEY_PREFIX": f"readyz-{os.getpid()}-{time.time_ns()}",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True},
        }
    }

    before = staff_client.get("/readyz")
    assert before.status_code == 200  # no sweep recorded yet: unknown, not down
    assert before.json()["checks"]["beat"]["last_sweep"] is None
    stale = (timezone.now() - timedelta(hours=3)).isoformat()
    cache.set(LAST_SWEEP_KEY, stale)
    down = staff_client.get("/readyz")
    assert down.status_code == 503
    assert down.json()["checks"]["beat"]["ok"] is False

    class Sweep:
        name = "nudges.sweep"

    record_sweep(task=Sweep(), state="SUCCESS")
    after = staff_client.get("/readyz")

    assert after.status_code == 200, after.json()
    checks = after.json()["checks"]
    assert checks["beat"]["last_sweep"] == cache.get(LAST_SWEEP_KEY)
    assert isinstance(checks["broker"]["queue_length"], int)
