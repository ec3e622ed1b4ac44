"""Sessions and rate limits across several gunicorn workers (the probe's first finding).

With a cache private to each worker, a session cookie still opened pages after logout on
the workers that had it cached, and a lockout allowed workers x the limit. Production
refuses that configuration (``check --deploy``, tests/security/test_probe_findings.py);
here the configuration it accepts (Redis) is shown to behave on three workers. Every
request opens a new connection, so that gunicorn spreads them over its workers.
"""

from __future__ import annotations

import http.client
import os
import re
import time
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

import pytest

from tests.learners.nudges.conftest import make_learner

from .load import Gunicorn, database_url

PASSWORD = "correct-horse-battery-staple"
WORKERS = 3

pytestmark = pytest.mark.integration


class Visitor:
    """A browser's cookies; a new connection for every request."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=20)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://{self.host}:{self.port}{path}"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            conn.close()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                for morsel in SimpleCookie(value).values():
                    self.cookies[morsel.key] = morsel.value
        return response.status, response.getheader("Location", ""), text

    def csrf(self, path: str) -> str:
        status, _, text = self.request("GET", path)
        assert status == 200, (path, status)
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text).group(1)


@pytest.fixture
def server(postgres, redis_broker_url):
    env = {
        "DATABASE_URL": database_url(postgres),
        "REDIS_URL": redis_broker_url,
        "CACHE_KEY_PREFIX": f"multiworker-{os.getpid()}-{time.time_ns()}",
    }
    with Gunicorn(env, workers=WORKERS, threads=1) as running:
        yield running


def test_a_logout_ends_the_session_on_every_worker(server):
    learner = make_learner()
    visitor = Visitor(server.url)
    token = visitor.csrf("/accounts/login/")
    status, _, _ = visitor.request(
        "POST",
        "/accounts/login/",
        {"csrfmiddlewaretoken": token, "login": learner.user.email, "password": PASSWORD},
    )
    assert status == 302
    session = visitor.cookies["sessionid"]
    # Every worker reads (and caches) the session.
    assert [visitor.request("GET", "/progress/")[0] for _ in range(4 * WORKERS)] == [200] * (
        4 * WORKERS
    )

    token = visitor.csrf("/accounts/logout/")
    assert visitor.request("POST", "/accounts/logout/", {"csrfmiddlewaretoken": token})[0] == 302

    stale = Visitor(server.url)
    stale.cookies["sessionid"] = session
    statuses = [stale.request("GET", "/progress/")[0] for _ in range(6 * WORKERS)]
    assert statuses == [302] * (6 * WORKERS)


def test_the_failed_login_limit_holds_across_workers(server):
    learner = make_learner()
    visitor = Visitor(server.url)
    refused = []
    for _ in range(4 * WORKERS):
        token = visitor.csrf("/accounts/login/")
        status, _, text = visitor.request(
            "POST",
            "/accounts/login/",
            {"csrfmiddlewaretoken": token, "login": learner.user.email, "password": "wrong"},
        )
        refused.append(status == 429 or "Too many failed login attempts" in text)

    # allauth's default: 5 failed attempts per account in 5 minutes, whichever worker.
    assert refused == [False] * 5 + [True] * (4 * WORKERS - 5)
