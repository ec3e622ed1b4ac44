"""Faults (issue 7, item 3): PostgreSQL going away during load, Redis unreachable, the SMTP
server down for several retry rounds, a worker killed mid-chunk. Each with real parts: a
gunicorn, PostgreSQL, Redis, Celery workers, an aiosmtpd server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import psycopg
import pytest
from aiosmtpd.controller import Controller
from celery.signals import task_postrun
from django.utils import timezone

from curriculum.selectors import curriculum_rules
from learners.models import KeyCompletion, LevelChange, ModuleProgress
from learners.nudges.models import Nudge, NudgeStatus
from learners.nudges.services.handoff import nudges_hand, nudges_hand_pending
from learners.nudges.services.sweep import nudges_sweep
from learners.services import learners_recompute
from tests.learners.nudges.conftest import (
    Mailbox,
    broker,
    free_port,
    make_learner,
)
from tests.learners.nudges.test_worker import LONG_AGO, NOW, sent_count, wait_for, worker

from .load import (
    ROOT,
    Gunicorn,
    State,
    _Browser,
    check_nothing_lost,
    database_url,
    figures,
    learners_signed_in,
    plans_for,
    practice_items,
    request,
    run_load,
)
from .tcp_proxy import TcpProxy

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SERVER_APP = "reliability-gunicorn"  # application_name of the server's PostgreSQL sessions


# --- PostgreSQL going away during load ---------------------------------------------------

REQUEST_TIMEOUT = 8.0  # a request hanging longer than this is a failure of the test
# Guards against a hang, not measures: each step of the outage waits for an event.
STEP_TIMEOUT = 120.0


class Outage:
    """Takes PostgreSQL away from the server and brings it back, driven by what the clients
    see rather than by a clock: once every client has had a success, PostgreSQL goes away;
    once a request has failed and /healthz answered 503, it comes back; once every client
    has had a success after that, the load stops."""

    def __init__(self, how: str, postgres: dict, proxy: TcpProxy, server_url: str) -> None:
        self.how, self.postgres, self.proxy, self.server_url = how, postgres, proxy, server_url
        self.down_at = self.up_at = 0.0
        self.cut = 0
        self.health_while_down: int | None = None
        self.live: list[list] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _admin(self):
        # From the maintenance database: a database cannot be closed from inside itself.
        maintenance = {**self.postgres, "NAME": "postgres"}
        return psycopg.connect(database_url(maintenance), autocommit=True)

    def _outcomes(self) -> list:
        return [outcome for client in self.live for outcome in list(client)]

    def _every_client_succeeded_after(self, moment: float) -> bool:
        succeeded = {o.client for o in self._outcomes() if o.ok and o.started > moment}
        return len(self.live) > 0 and succeeded == set(range(len(self.live)))

    def _run(self) -> None:
        try:
            wait_for(lambda: self._every_client_succeeded_after(0.0), timeout=STEP_TIMEOUT)
            self._take_away()
            wait_for(
                lambda: any(not o.ok and o.started >= self.down_at for o in self._outcomes()),
                timeout=STEP_TIMEOUT,
            )
            self.health_while_down, _ = request(
                self.server_url, "GET", "/healthz", timeout=REQUEST_TIMEOUT
            )
            self.restore()
            wait_for(lambda: self._every_client_succeeded_after(self.up_at), timeout=STEP_TIMEOUT)
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            self.restore()
            self.stop.set()

    def _take_away(self) -> None:
        self.down_at = time.monotonic()
        if self.how == "connections cut":
            self.cut = self.proxy.cut()
            return
        # What a restart does to clients: the server refuses new sessions and ends the
        # running ones ("terminating connection due to administrator command").
        with self._admin() as admin:
            admin.execute(f'ALTER DATABASE "{self.postgres["NAME"]}" WITH ALLOW_CONNECTIONS false')
            self.cut = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s",
                [SERVER_APP],
            ).fetchone()[0]

    def overlaps(self, outcome) -> bool:
        """Whether the request was in flight while PostgreSQL was away."""
        ended = outcome.started + outcome.seconds
        return bool(self.down_at) and ended >= self.down_at and outcome.started <= self.up_at

    def restore(self) -> None:
        if self.up_at or not self.down_at:
            return
        if self.how == "connections cut":
            self.proxy.restore()
        else:
            with self._admin() as admin:
                admin.execute(
                    f'ALTER DATABASE "{self.postgres["NAME"]}" WITH ALLOW_CONNECTIONS true'
                )
        self.up_at = time.monotonic()


@pytest.mark.parametrize("how", ["connections cut", "backends terminated"])
def test_postgresql_going_away_mid_load_fails_cleanly_and_recovers(postgres, how):
    """Invariants only, on any machine however busy: every request answered (an error page,
    never a hang or a dropped connection); every failure overlaps the outage; every client
    succeeds again once PostgreSQL is back; nothing a client was told is lost."""
    items = practice_items(curriculum_rules(fresh=True), levels=(1,))
    learners = learners_signed_in(12, prefix="outage", items=items, done_share=0.75)
    plans = plans_for(learners, items, 16)
    start = State.read(pk for pk, _ in learners)
    host, port = postgres.get("HOST") or "127.0.0.1", int(postgres.get("PORT") or 5432)

    with TcpProxy(host, port) as proxy:
        env = {
            "DATABASE_URL": database_url(
                postgres, host="127.0.0.1", port=proxy.port, application_name=SERVER_APP
            ),
            "REDIS_URL": "",
        }
        with Gunicorn(env) as server:
            outage = Outage(how, postgres, proxy, server.url)
            outage.thread.start()
            try:
                outcomes = run_load(
                    server.url,
                    plans,
                    stop=outage.stop,
                    live=outage.live,
                    timeout=REQUEST_TIMEOUT,
                )
            finally:
                outage.stop.set()
                outage.thread.join(timeout=STEP_TIMEOUT)
                outage.restore()
            server.wait_healthy(STEP_TIMEOUT)
            log = server.log()

    assert outage.error is None, (outage.error, log)
    measured = figures(outcomes)
    print(f"\n{how}: {measured.line()}; {outage.cut} connections cut")
    assert outage.cut > 0  # the server had connections open, and lost them
    # Failing cleanly: an error page, never a hang or a dropped connection.
    assert outage.health_while_down == 503
    assert measured.no_answer == 0, [o.error for o in outcomes if not o.status][:5]
    # An error page: a 500, or Django's 400 when the session's save meets the outage
    # (SessionInterrupted: the tick itself may have been written before it).
    assert set(measured.statuses) <= {200, 302, 400, 500}, (measured.statuses, log)
    # No answer outside the outage's effects: a failed request was in flight while
    # PostgreSQL was away (it ended after it went, and began before it came back).
    failed = [o for o in outcomes if not o.ok]
    assert failed, "no request failed: the outage did not reach the server"
    outside = [o for o in failed if not outage.overlaps(o)]
    assert outside == [], [(round(o.started - outage.up_at, 3), o.status) for o in outside]
    # Recovered: every client succeeded again after PostgreSQL came back.
    after = {o.client for o in outcomes if o.ok and o.started > outage.up_at}
    assert after == set(range(len(plans)))

    verdict = check_nothing_lost(plans, outcomes, start=start, fault_effect=outage.overlaps)
    print(f"{how}: {verdict.line()}")
    assert verdict.problems == []


# --- Redis unreachable -------------------------------------------------------------------


def test_pages_work_with_redis_unreachable_and_the_nudge_waits_for_it(
    postgres, redis_broker_url, smtp_server, no_quiet_hours
):
    """Cache and broker both on a Redis nobody listens on: signing in, the pages and a tick
    that raises the level all work; the level-up nudge waits pending and goes out once
    after Redis is back."""
    password = "correct-horse-battery-staple"
    learner = make_learner(annual_compensation=100_000, can_explain_concepts=False)
    rules = curriculum_rules(fresh=True)
    items = practice_items(rules, levels=(1,))
    keys = [item for item in items if item.kind == "key"]
    needed = 8 - 1  # eight of the ten level-1 keys; the modules make the linked one done
    KeyCompletion.objects.bulk_create(
        KeyCompletion(learner=learner, key_id=item.pk) for item in keys[: needed - 1]
    )
    ModuleProgress.objects.bulk_create(
        ModuleProgress(learner=learner, module_id=item.pk)
        for item in items
        if item.kind == "module"
    )
    learners_recompute(learner_ids=[learner.pk])
    learner.refresh_from_db()
    assert learner.level == 1
    last_key = keys[needed - 1]

    closed = f"redis://127.0.0.1:{free_port()}/0"
    with Gunicorn({"DATABASE_URL": database_url(postgres), "REDIS_URL": closed}) as server:
        browser = _Browser(server.url, {"sessionid": "", "csrftoken": ""}, timeout=10)
        timings = {}

        def timed(name, method, path, body=None, headers=None):
            began = time.monotonic()
            status = browser.send(method, path, body, headers or {})
            timings[name] = time.monotonic() - began
            return status

        assert timed("home", "GET", "/") == 200
        assert timed("login page", "GET", "/accounts/login/") == 200
        token = browser.cookies["csrftoken"]
        body = f"login={learner.user.email}&password={password}&csrfmiddlewaretoken={token}"
        assert timed("sign in", "POST", "/accounts/login/", body) == 302, server.log()
        assert browser.cookies["sessionid"]
        assert timed("progress", "GET", "/progress/") == 200, server.log()
        headers = {"X-CSRFToken": browser.cookies["csrftoken"]}
        assert timed("tick", "POST", last_key.path, "done=1", headers) == 302, server.log()
        browser.close()
    # Speed is the bench's: printed, not asserted (a busy CI machine is slow, not broken).
    print(f"\nRedis unreachable: seconds per request {timings}")

    learner.refresh_from_db()
    assert learner.level == 2
    # The last change (the first is the placement, from no level).
    assert LevelChange.objects.filter(learner=learner).order_by("pk").values_list(
        "from_level", "to_level"
    ).last() == (1, 2)
    nudge = Nudge.objects.get(learner=learner)
    assert (nudge.kind, nudge.status, nudge.handed_at) == ("level_up", "pending", None)
    assert smtp_server.messages == []

    # Redis is back: the frequent pass hands the row to a real worker, which sends it once.
    with broker(redis_broker_url) as app, worker(app):
        assert nudges_hand_pending(now=timezone.now() + timedelta(minutes=2)) == 1
        wait_for(lambda: sent_count() == 1)
        assert nudges_hand_pending(now=timezone.now() + timedelta(minutes=2)) == 0
    [message] = smtp_server.to(learner.user.email)
    assert message["Subject"].startswith("You reached Level 2")


def _dead_redis_cache() -> dict:
    """The production cache settings (pyramid_site.settings.base) on a Redis nobody
    listens on."""
    return {
        "default": {
            "BACKEND": "pyramid_site.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 1.0,
            },
        }
    }


def test_the_cache_works_as_an_empty_one_while_redis_is_unreachable(settings):
    from django.core.cache import cache
    from django.core.cache.backends.redis import RedisCache
    from redis.exceptions import ConnectionError as RedisConnectionError

    settings.CACHES = _dead_redis_cache()
    with pytest.raises(RedisConnectionError):  # what Django's own backend does
        RedisCache(settings.CACHES["default"]["LOCATION"], {}).get("curriculum-rules:v2")

    began = time.monotonic()
    assert cache.get("a", "missing") == "missing"
    cache.set("a", 1)
    assert cache.get("a") is None
    assert cache.add("lock", True) is True  # as an empty cache: the key was free
    assert cache.get_many(["a", "b"]) == {}
    cache.delete("a")
    assert cache.incr("a") is None
    assert time.monotonic() - began < 1.0  # refused at once, not waited for


def test_rate_limits_fail_open_while_redis_is_unreachable(settings, rf):
    """allauth's rate limit takes its lock with cache.add: with Redis down the request is
    let through (not refused with a 429 after a second of retrying the lock)."""
    from allauth.core.internal import ratelimit

    settings.CACHES = _dead_redis_cache()
    request = rf.post("/accounts/login/")
    for _ in range(12):  # a working cache refuses the 6th (5 per email)
        began = time.monotonic()
        usage = ratelimit.consume(
            request, app="allauth.account", action="login_failed", key="someone@example.com"
        )
        assert usage, "refused while Redis is down"
        assert time.monotonic() - began < 0.5


# --- The SMTP server down for several retry rounds -----------------------------------------


def test_smtp_server_down_for_several_retry_rounds_then_up_sends_once(redis_broker_url, settings):
    """Nothing listens on the SMTP port (not a 451: the server is down) while the worker
    retries with backoff; the server comes up before the last attempt: sent exactly once."""
    # Retries after 1, 2, 4, 8 s (the test settings' NUDGE_RETRY_BASE_SECONDS).
    port = free_port()
    _point_email_at(settings, port)
    learner = make_learner(created_at=LONG_AGO, last_activity_at=LONG_AGO)
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    attempts_seen = []
    runs: list[str] = []  # the state each run of the send task ended in

    def record_run(sender=None, state=None, **kwargs):
        if sender is not None and sender.name == "nudges.send_chunk":
            runs.append(state)

    task_postrun.connect(record_run, weak=False, dispatch_uid="faults-smtp-runs")
    try:
        with broker(redis_broker_url) as app, worker(app):
            nudges_sweep(now=NOW)
            # Down for three rounds (each counted as an attempt, the row back to pending)...
            wait_for(lambda: Nudge.objects.get(learner=learner).attempts >= 3, timeout=20)
            nudge = Nudge.objects.get(learner=learner)
            attempts_seen.append((nudge.attempts, nudge.status, nudge.last_error))
            # ...then up.
            controller.start()
            wait_for(lambda: sent_count() == 1, timeout=20)
            # The run that sent it ended without scheduling a retry: no late retry exists.
            wait_for(lambda: "SUCCESS" in runs, timeout=20)
            assert nudges_hand_pending(now=timezone.now() + timedelta(hours=2)) == 0
    finally:
        task_postrun.disconnect(dispatch_uid="faults-smtp-runs")
        controller.stop()

    attempts, status, error = attempts_seen[0]
    assert (attempts, status) == (3, NudgeStatus.PENDING)
    assert "Connection refused" in error
    nudge = Nudge.objects.get(learner=learner)
    assert (nudge.status, nudge.attempts, nudge.last_error) == (NudgeStatus.SENT, 4, "")
    assert mailbox.recipients() == [learner.user.email]


def _point_email_at(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10


# --- A worker killed mid-chunk -----------------------------------------------------------

CHUNK = 45
KILL_AFTER = 25  # messages the SMTP server has accepted when the worker is killed


class SlowMailbox(Mailbox):
    """An SMTP server that takes its time over each message; ``in_flight`` counts the
    messages it has received and not yet accepted (a test waits for none)."""

    delay = 0.1

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0

    async def handle_DATA(self, server, session, envelope):
        self.in_flight += 1  # the server's event loop is one thread
        try:
            await asyncio.sleep(self.delay)
            return await super().handle_DATA(server, session, envelope)
        finally:
            self.in_flight -= 1


class CeleryWorker:
    """``celery -A pyramid_site worker`` in its own process (group), on the test database."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "pyramid_site",
                "worker",
                "--pool",
                "solo",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "WARNING",
            ],
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "tests.reliability.server_settings",
                **env,
            },
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
        self.process.wait(timeout=30)


def test_a_worker_killed_mid_chunk_sends_nothing_twice_and_the_next_pass_sends_the_rest(
    postgres, redis_broker_url, no_holdout, no_quiet_hours
):
    learners = [make_learner(created_at=LONG_AGO, last_activity_at=LONG_AGO) for _ in range(CHUNK)]
    email_of = {learner.pk: learner.user.email for learner in learners}
    rows = Nudge.objects.bulk_create(
        [Nudge(learner=learner, kind="next_step", dedup_key="2026-W24") for learner in learners]
    )
    ids = [row.pk for row in rows]
    mailbox = SlowMailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    env = {
        "DATABASE_URL": database_url(postgres),
        "REDIS_URL": redis_broker_url,
        "EMAIL_URL": f"smtp://127.0.0.1:{controller.port}",
        "CACHE_KEY_PREFIX": f"reliability-{os.getpid()}-{time.time_ns()}",
    }
    first = second = None
    try:
        with broker(redis_broker_url) as app:
            app.control.purge()
            assert nudges_hand(nudge_ids=ids)  # one chunk task for the whole chunk
            first = CeleryWorker(env)
            wait_for(lambda: len(mailbox.messages) >= KILL_AFTER, timeout=60)
            first.kill()
            wait_for(lambda: mailbox.in_flight == 0)  # the message in flight, if any, lands
            delivered_by_first = Counter(mailbox.recipients())
            after_kill = dict(Nudge.objects.values_list("pk", "status"))

            # The next pass: the frequent pass hands what is pending (its task was handed
            # long ago) to a new worker.
            handed = nudges_hand_pending(now=timezone.now() + timedelta(hours=2))
            second = CeleryWorker(env)
            left_sending = {
                pk for pk, status in after_kill.items() if status == NudgeStatus.SENDING
            }
            # Done: nothing pending, nothing sending but what the first worker left, and no
            # message half-way into the SMTP server.
            wait_for(
                lambda: (
                    not Nudge.objects.filter(status=NudgeStatus.PENDING).exists()
                    and set(
                        Nudge.objects.filter(status=NudgeStatus.SENDING).values_list(
                            "pk", flat=True
                        )
                    )
                    == left_sending
                    and mailbox.in_flight == 0
                ),
                timeout=60,
            )
    finally:
        for process in (first, second):
            if process is not None:
                process.kill(signal.SIGTERM)
        controller.stop()
        _forget_unacked(redis_broker_url)

    status_of = dict(Nudge.objects.values_list("pk", "status"))
    sending = {pk for pk, status in status_of.items() if status == NudgeStatus.SENDING}
    row_of = {row.pk: row.learner_id for row in rows}
    delivered = Counter(mailbox.recipients())
    print(
        f"\nworker killed after {sum(delivered_by_first.values())} messages: statuses then "
        f"{Counter(after_kill.values())}; next pass handed {handed}; now "
        f"{Counter(status_of.values())}; {sum(delivered.values())} messages"
    )
    # No email twice.
    assert max(delivered.values()) == 1
    # Left in ``sending``: only rows the server may have accepted (each was given to the SMTP
    # connection; at most one of them was in flight when the worker died).
    assert sending == {pk for pk, status in after_kill.items() if status == NudgeStatus.SENDING}
    not_delivered = [pk for pk in sending if email_of[row_of[pk]] not in delivered_by_first]
    assert len(not_delivered) <= 1, f"{len(not_delivered)} rows in sending were never sent"
    # The rest were sent by the next pass, each once.
    assert handed == CHUNK - len(sending) - sum(1 for s in after_kill.values() if s == "sent")
    assert {pk for pk, status in status_of.items() if status == NudgeStatus.SENT} == set(
        ids
    ) - sending
    for pk in set(ids) - sending:
        assert delivered[email_of[row_of[pk]]] == 1


def _forget_unacked(url: str) -> None:
    """The killed worker's task stays unacknowledged in Redis until its visibility timeout
    (an hour); drop it so that no later worker on this Redis database picks it up."""
    import redis

    client = redis.Redis.from_url(url)
    client.delete("unacked", "unacked_index")
