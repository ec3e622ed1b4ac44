"""Real parts for the nudge tests: an aiosmtpd SMTP server, Redis, a Celery worker."""

from __future__ import annotations

import email
import os
import socket
import threading
from contextlib import contextmanager
from email import policy
from urllib.parse import urlsplit, urlunsplit

import kombu.pools
import pytest
from aiosmtpd.controller import Controller
from allauth.account.models import EmailAddress

from pyramid_site.celery import app as celery_app
from tests.factories import LearnerFactory


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mailbox:
    """What the SMTP server accepted; ``refuse`` makes it answer 451 to that many messages."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.refuse = 0
        self.refused = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            if self.refuse > 0:
                self.refuse -= 1
                self.refused += 1
                return "451 4.3.0 Try again later"
            self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def recipients(self) -> list[str]:
        return sorted(m["To"] for m in self.messages)


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on a free port, and Django's SMTP backend pointed at it."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    try:
        yield mailbox
    finally:
        controller.stop()


def make_learner(*, verified: bool = True, **fields):
    """A learner (engineer track unless told) whose login address is verified unless told."""
    fields.setdefault("engineer", True)
    learner = LearnerFactory(**fields)
    if verified:
        EmailAddress.objects.create(
            user=learner.user, email=learner.user.email, verified=True, primary=True
        )
    return learner


def redis_url() -> str:
    """NUDGES_REDIS_URL, else REDIS_URL: the broker the integration tests use.

    Under pytest-xdist each worker has a test database of its own; it gets a Redis database
    of its own too (the URL's number + 1 + the worker's number), so that one worker's
    queue, purge or unacknowledged tasks never reach another's workers or database.
    """
    url = os.environ.get("NUDGES_REDIS_URL") or os.environ.get("REDIS_URL") or ""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url.startswith(("redis://", "rediss://")) or not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) + 1 + int(worker.removeprefix("gw"))
    return urlunsplit(parts._replace(path=f"/{database}"))


def redis_reachable(url: str) -> str:
    """Why Redis cannot be used ('' when it can)."""
    if not url:
        return "REDIS_URL is not set"
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        return f"Redis at {url} is unreachable: {exc}"
    return ""


@pytest.fixture
def redis_broker_url():
    url = redis_url()
    reason = redis_reachable(url)
    if reason:
        pytest.skip(reason)
    return url


@contextmanager
def broker(url: str):
    """Point the project's Celery app at ``url`` with tasks really published (not eager)."""
    conf = celery_app.conf
    saved = {
        "broker_url": conf.broker_url,
        "task_always_eager": conf.task_always_eager,
        "broker_connection_retry_on_startup": conf.broker_connection_retry_on_startup,
    }
    _reset_pools()
    conf.broker_url = url
    conf.task_always_eager = False
    try:
        yield celery_app
    finally:
        _reset_pools()
        for name, value in saved.items():
            setattr(conf, name, value)


def _reset_pools() -> None:
    """Drop connections to the previous broker (the pools are made lazily from the conf and
    kept in kombu's registry, keyed by broker URL)."""
    kombu.pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def bulk_learners(n: int, *, signed_up_at, prefix: str = "bulk", verified: bool = True, **fields):
    """``n`` learners inserted in bulk (three queries), verified unless told."""
    from learners.models import Learner, User

    users = User.objects.bulk_create(
        [User(email=f"{prefix}{i}@example.com", password="!") for i in range(n)]  # noqa: S106
    )
    learners = Learner.objects.bulk_create(
        [Learner(user=user, created_at=signed_up_at, **fields) for user in users]
    )
    if verified:
        EmailAddress.objects.bulk_create(
            [
                EmailAddress(user=user, email=user.email, verified=True, primary=True)
                for user in users
            ]
        )
    return learners


def uses_database(request) -> bool:
    return (
        request.node.get_closest_marker("django_db") is not None
        or "transactional_db" in request.fixturenames
    )


@pytest.fixture
def no_holdout(request):
    """No hold-out for the experiment kinds: a test of sending, not of experiments, sends
    to every learner (who is held out depends on the learner's id, which differs between
    databases)."""
    from learners.nudges import rules
    from learners.nudges.services.experiments import experiment_set_share

    if not uses_database(request):
        return  # a test without the database sends nothing
    for kind in rules.EXPERIMENT_KINDS:
        experiment_set_share(kind=kind, percent=0)


@pytest.fixture
def no_quiet_hours(request):
    """No quiet hours: a test of sending sends whatever the hour the suite runs at (the
    chunk task sends as of the real clock; quiet hours, 21:00-08:00 by default, would defer
    every email of a run at night). Tests of quiet hours set the budget themselves."""
    from datetime import time

    from learners.nudges.models import NudgeBudget

    if not uses_database(request):
        return
    NudgeBudget.objects.update_or_create(
        pk=1, defaults={"quiet_start": time(0), "quiet_end": time(0)}
    )
