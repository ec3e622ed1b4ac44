"""The per-key rate limit under concurrency, and the RateLimit headers.

DRF's throttle read a key's history, appended and wrote it back: parallel requests on
several workers read the same history, and 1,000 parallel requests against 600/min let 661
through. The count is now one atomic counter in the shared cache (Redis INCR), so exactly
the limit gets through. Headers: draft-ietf-httpapi-ratelimit-headers-11 (``RateLimit-Policy``,
``RateLimit``) and the separate fields of its revisions up to -06 (``RateLimit-Limit``,
``RateLimit-Remaining``, ``RateLimit-Reset``).
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from django.core.cache import caches
from django.test import override_settings

from learners.integrations.api.auth import ApiKeyRateThrottle
from learners.integrations.models import ApiKey, ApiScope
from learners.integrations.services.api_keys import api_key_create
from tests.learners.nudges.conftest import redis_broker_url  # noqa: F401 - fixture
from tests.reliability.conftest import postgres  # noqa: F401 - fixture
from tests.reliability.load import Gunicorn, database_url

from .conftest import bearer

PROBLEM = "application/problem+json"


def parallel(count: int, call):
    """``call()`` from ``count`` threads released together; the answers in any order."""
    start = threading.Barrier(count)

    def one(_):
        start.wait()
        return call()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


class _Request:
    def __init__(self, key: ApiKey) -> None:
        self.auth = key


def throttle(rate: str) -> ApiKeyRateThrottle:
    limited = ApiKeyRateThrottle()
    limited.rate = rate
    limited.num_requests, limited.duration = limited.parse_rate(rate)
    return limited


@pytest.fixture
def redis_cache(redis_broker_url):  # noqa: F811 - the fixture imported above
    """The throttle's cache pointed at Redis (REDIS_URL's database; its own per xdist worker)
    under a prefix of its own, so nothing else's keys are read or removed."""
    prefix = f"ratelimit-test-{os.getpid()}-{time.time_ns()}"
    config = {
        "default": {
            "BACKEND": "pyramid_site.cache.RedisCache",
            # A URL of its own (client_name is a Redis connection option), so django-redis
            # makes this test a connection pool of its own with the size below, instead of
            # reusing one an earlier test made for the same URL.
            "LOCATION": f"{redis_broker_url}?client_name={prefix}",
            "KEY_PREFIX": prefix,
            # Every thread of the test may hold a connection at once.
            "OPTIONS": {"CONNECTION_POOL_KWARGS": {"max_connections": 400}},
        }
    }
    with override_settings(CACHES=config):
        yield caches["default"]
        caches["default"].delete_pattern("*")


@pytest.mark.integration
def test_parallel_requests_on_one_key_let_exactly_the_limit_through(redis_cache):
    key = ApiKey(prefix="parallel1", name="parallel")
    limited = throttle("50/hour")
    limited.cache = redis_cache
    answers = parallel(200, lambda: limited.allow_request(_Request(key), None))
    assert answers.count(True) == 50 and answers.count(False) == 150
    # Another key has a window of its own.
    assert limited.allow_request(_Request(ApiKey(prefix="parallel2")), None)


def test_a_window_opens_with_the_first_request_and_its_headers_count_down(db):
    key = ApiKey(prefix="countdown", name="countdown")
    limited = throttle("3/min")
    now = [1_000_000.0]
    limited.timer = lambda: now[0]
    requests = [_Request(key) for _ in range(4)]
    assert [limited.allow_request(request, None) for request in requests] == [1, 1, 1, 0]
    assert [request.rate_limit.remaining for request in requests] == [2, 1, 0, 0]
    assert requests[0].rate_limit.reset == 60 and limited.wait() == 60
    now[0] += 45  # 15 seconds of the window left
    assert not limited.allow_request(_Request(key), None) and limited.wait() == 15
    now[0] += 15  # the window is over: the cache lets its marker expire, a new one opens
    limited.cache.delete(f"{limited.get_cache_key(_Request(key), None)}:start")
    assert limited.allow_request(fresh := _Request(key), None)
    assert fresh.rate_limit.remaining == 2 and fresh.rate_limit.reset == 60


# --- over HTTP: gunicorn, several worker processes, Redis as the shared cache ------------


def get(base_url: str, path: str, key: str):
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


LIMIT = 25


@pytest.fixture
def server(postgres, redis_broker_url):  # noqa: F811 - the fixtures imported above
    env = {
        "DATABASE_URL": database_url(postgres),
        "REDIS_URL": redis_broker_url,
        "CACHE_KEY_PREFIX": f"ratelimit-{os.getpid()}-{time.time_ns()}",
        # Per hour: the burst lies well inside one window however slow the machine is.
        "API_RATE_LIMIT": f"{LIMIT}/hour",
    }
    with Gunicorn(env, workers=3, threads=4) as running:
        yield running


@pytest.mark.integration
def test_over_http_on_three_workers_exactly_the_limit_succeeds(server):
    key = api_key_create(name="burst", scope=ApiScope.READ)[1]
    answers = parallel(100, lambda: get(server.url, "/api/v1/learners/", key))
    ok = [headers for status, headers, _ in answers if status == 200]
    refused = [(headers, body) for status, headers, body in answers if status == 429]
    assert len(ok) == LIMIT and len(refused) == 100 - LIMIT, [a[0] for a in answers]
    # Each success had its own place in the count: remaining LIMIT-1 down to 0.
    assert sorted(int(h["RateLimit-Remaining"]) for h in ok) == list(range(LIMIT))
    for headers in ok:
        assert headers["RateLimit-Limit"] == str(LIMIT)
        assert headers["RateLimit-Policy"] == f'"api-key";q={LIMIT};w=3600'
        remaining, reset = headers["RateLimit-Remaining"], headers["RateLimit-Reset"]
        assert headers["RateLimit"] == f'"api-key";r={remaining};t={reset}'
        assert 0 < int(reset) <= 3600
    for headers, body in refused:
        assert headers["Content-Type"].startswith(PROBLEM)
        problem = json.loads(body)
        assert problem["status"] == 429 and problem["title"] == "Too Many Requests"
        assert headers["RateLimit-Remaining"] == "0"
        # Retry-After is the end of the window, the same moment as RateLimit-Reset.
        assert headers["Retry-After"] == headers["RateLimit-Reset"]
        assert 0 < int(headers["Retry-After"]) <= 3600


def test_answers_carry_the_headers_and_a_refusal_says_when_to_retry(client, read_key, settings):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "api_key": "2/min"}
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = rates
    try:
        answers = [client.get("/api/v1/learners/", **bearer(read_key)) for _ in range(3)]
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a["RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
    assert answers[2]["Retry-After"] == answers[2]["RateLimit-Reset"]
    assert answers[2]["Content-Type"].startswith(PROBLEM)
    # Without a valid key there is no count to speak of.
    assert "RateLimit" not in client.get("/api/v1/learners/")
