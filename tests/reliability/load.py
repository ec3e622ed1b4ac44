"""Load on a real gunicorn, and the check that nothing was lost.

Used by the reliability tests (short runs in CI) and by ``bench/soak.py`` (the 60-second,
50-client run). Each client is a thread speaking HTTP/1.1 with keep-alive (``http.client``),
signed in as one learner by a session cookie, ticking and unticking keys and modules
through the progress page's forms (CSRF token from a GET of the page, as a browser does).

The check reads the database afterwards: every key and module is in the state the learner's
last successful request asked for (a request that got no success answer may or may not
have been applied, so its state is accepted too), the learner's level is what the
placement rule gives for that state, and the level history is one unbroken chain ending at
that level. For learners whose every request succeeded, one client each, the history is
compared row by row with a replay of their requests through the placement rule.
"""

from __future__ import annotations

import http.client
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")
SERVER_SETTINGS = "tests.reliability.server_settings"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(
    settings_dict: dict,
    *,
    host: str | None = None,
    port: int | None = None,
    application_name: str = "",
) -> str:
    """A DATABASE_URL for another process, for the database ``settings_dict`` describes
    (optionally through another host and port, such as a proxy)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = host or settings_dict.get("HOST") or "127.0.0.1"
    port = port or settings_dict.get("PORT") or 5432
    url = f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"
    return f"{url}?application_name={application_name}" if application_name else url


# --- the server ------------------------------------------------------------------------


class Gunicorn:
    """gunicorn serving the project (gthread workers) in its own process group.

    ``with Gunicorn(env) as server:`` waits until ``/healthz`` answers 200; ``server.url``.
    """

    def __init__(
        self,
        env: dict[str, str],
        *,
        workers: int = 3,
        threads: int = 4,
        settings: str = SERVER_SETTINGS,
        start_timeout: float = 40.0,
    ) -> None:
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings, **env}
        self.workers = workers
        self.threads = threads
        self.start_timeout = start_timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in __exit__
            prefix="gunicorn-", suffix=".log", delete=False
        )

    def __enter__(self) -> Gunicorn:
        self.process = subprocess.Popen(
            [
                str(GUNICORN),
                "pyramid_site.wsgi:application",
                "--worker-class",
                "gthread",
                "--workers",
                str(self.workers),
                "--threads",
                str(self.threads),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "30",
                "--graceful-timeout",
                "5",
                "--log-level",
                "warning",
            ],
            env=self.env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self.wait_healthy(self.start_timeout)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def wait_healthy(self, timeout: float) -> float:
        """Poll /healthz until it answers 200; return the seconds it took."""
        started = time.monotonic()
        deadline = started + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            try:
                status, _ = request(self.url, "GET", "/healthz", timeout=2)
            except (OSError, http.client.HTTPException) as exc:
                last = repr(exc)
            else:
                if status == 200:
                    return time.monotonic() - started
                last = f"status {status}"
            time.sleep(0.1)
        raise RuntimeError(f"/healthz not 200 after {timeout}s ({last}):\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")[-5000:]

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


def request(base_url: str, method: str, path: str, *, timeout: float = 10.0):
    """One request on a fresh connection: (status, headers)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        response.read()
        return response.status, response.getheaders()
    finally:
        conn.close()


# --- learners and what they tick ---------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """A key (ticked by hand) or a module a client ticks and unticks."""

    kind: str  # "key" or "module"
    pk: int
    name: str  # the key's code, or the module's number

    @property
    def path(self) -> str:
        return f"/progress/{'keys' if self.kind == 'key' else 'modules'}/{self.pk}/"


def practice_items(curriculum, *, track: str = "engineer", levels=(1, 2)) -> list[Item]:
    """The keys ticked by hand and the stage modules of these levels: enough to move a
    learner placed at level 1 up to 2 and 3 and back."""
    rules = curriculum.tracks[track]
    items = [
        Item("key", key.id, key.code)
        for level in levels
        for key in rules.keys.get(level, ())
        if not key.module_linked
    ]
    items += [
        Item("module", curriculum.module_ids[number], str(number))
        for level in levels
        for number in rules.stage_modules.get(level, ())
    ]
    return items


LEVEL_ONE_ENGINEER = {
    "annual_compensation": 100_000,
    "can_explain_concepts": False,
    "can_implement_from_scratch": False,
    "deployed_at_scale": False,
    "seen_as": "integrator",
    "leads_initiatives": False,
}


def learners_signed_in(
    n: int,
    *,
    prefix: str = "load",
    items: list[Item] = (),
    done_share: float = 0.0,
    seed: int = 7,
) -> list[tuple[int, list[str]]]:
    """``n`` engineers whose answers place them at level 1, each with two sessions (two
    browsers): [(learner id, [session key, session key])]. A random ``done_share`` of
    ``items`` is done at the start (written in bulk, levels recomputed), so that a short
    run starts where levels change often."""
    from django.utils import timezone

    from curriculum.models import Track
    from learners.models import KeyCompletion, ModuleProgress
    from learners.services import learner_create, learner_recompute_level, learners_recompute

    engineer = Track.objects.get(slug="engineer")
    made = []
    for i in range(n):
        learner = learner_create(
            email=f"{prefix}{i}@example.com",
            track=engineer,
            assessment_submitted_at=timezone.now(),
            **LEVEL_ONE_ENGINEER,
        )
        learner_recompute_level(learner=learner)
        made.append((learner.pk, [session_for(learner.user), session_for(learner.user)]))
    rng = random.Random(seed)
    done = [(pk, item) for pk, _ in made for item in items if rng.random() < done_share]
    KeyCompletion.objects.bulk_create(
        KeyCompletion(learner_id=pk, key_id=item.pk) for pk, item in done if item.kind == "key"
    )
    ModuleProgress.objects.bulk_create(
        ModuleProgress(learner_id=pk, module_id=item.pk)
        for pk, item in done
        if item.kind == "module"
    )
    if done:
        learners_recompute(learner_ids=[pk for pk, _ in made])
    return made


def session_for(user) -> str:
    """A signed-in session for ``user`` in the session store (what logging in makes)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


@dataclass(frozen=True)
class ClientPlan:
    """One client: signed in as a learner, ticking these items (no other client of the
    same learner ticks them, so each item's last request is well defined)."""

    learner_id: int
    session_key: str
    items: tuple[Item, ...]


def plans_for(
    learners: list[tuple[int, list[str]]], items: list[Item], clients: int
) -> list[ClientPlan]:
    """``clients`` clients over ``learners``: one each, and the extra clients as second
    browsers of the first learners, which then split their items between two clients."""
    if clients < len(learners) or clients > 2 * len(learners):
        raise ValueError("between one and two clients per learner")
    doubled = clients - len(learners)
    plans = []
    for index, (learner_id, sessions) in enumerate(learners):
        if index < doubled:
            plans.append(ClientPlan(learner_id, sessions[0], tuple(items[0::2])))
            plans.append(ClientPlan(learner_id, sessions[1], tuple(items[1::2])))
        else:
            plans.append(ClientPlan(learner_id, sessions[0], tuple(items)))
    return plans


# --- running the clients -------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    client: int
    learner_id: int
    item: Item | None  # None: a GET of the progress page
    done: bool | None
    status: int  # 0: no HTTP answer (connection refused or reset, timeout)
    error: str
    started: float  # time.monotonic()
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status == (302 if self.item is not None else 200)


class _Browser:
    """Cookies and one keep-alive connection, reopened after an error."""

    def __init__(self, base_url: str, cookies: dict[str, str], timeout: float) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.cookies = dict(cookies)
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def send(self, method: str, path: str, body: str | None, headers: dict) -> int:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), **headers}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                for morsel in SimpleCookie(value).values():
                    if morsel.key in self.cookies and morsel.key != "messages":
                        self.cookies[morsel.key] = morsel.value
        if response.will_close:
            self.close()
        return response.status

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def run_load(
    base_url: str,
    plans: list[ClientPlan],
    *,
    seconds: float | None = None,
    requests: int | None = None,
    stop: threading.Event | None = None,
    live: list[list[Outcome]] | None = None,
    tick_share: float = 0.8,
    page_share: float = 0.1,
    timeout: float = 10.0,
    seed: int = 7,
) -> list[Outcome]:
    """Every client in its own thread: mostly POSTs setting an item to done (``tick_share``
    of the time) or not done, sometimes (``page_share``) a GET of the page. Each client
    stops after ``requests`` requests, after ``seconds`` (the bench's soak), or when
    ``stop`` is set (a test driving a fault by events), whichever comes first. ``live``
    (an empty list) is given each client's outcomes as they happen, for such a driver.
    Returns every request's outcome."""
    from django.conf import settings

    if seconds is None and requests is None and stop is None:
        raise ValueError("run_load needs seconds, requests or stop")
    session_cookie, csrf_cookie = settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME
    results: list[list[Outcome]] = [[] for _ in plans]
    if live is not None:
        live.extend(results)
    start = threading.Barrier(len(plans) + 1)
    deadline_box: list[float] = []

    def finished(outcomes: list[Outcome]) -> bool:
        return (
            (requests is not None and len(outcomes) >= requests)
            or (seconds is not None and time.monotonic() >= deadline_box[0])
            or (stop is not None and stop.is_set())
        )

    def client(index: int, plan: ClientPlan) -> None:
        rng = random.Random(seed * 100_003 + index)
        browser = _Browser(base_url, {session_cookie: plan.session_key, csrf_cookie: ""}, timeout)
        outcomes = results[index]

        def record(item: Item | None, done: bool | None, method: str, path: str, body=None):
            headers = {"X-CSRFToken": browser.cookies[csrf_cookie]} if body is not None else {}
            began = time.monotonic()
            status, error = 0, ""
            try:
                status = browser.send(method, path, body, headers)
            except (OSError, http.client.HTTPException) as exc:
                error = f"{type(exc).__name__}: {exc}"[:200]
            outcomes.append(
                Outcome(
                    index,
                    plan.learner_id,
                    item,
                    done,
                    status,
                    error,
                    began,
                    time.monotonic() - began,
                )
            )
            return status

        start.wait(timeout=60)
        try:
            while not finished(outcomes):
                if not browser.cookies[csrf_cookie] or rng.random() < page_share:
                    if record(None, None, "GET", "/progress/") != 200:
                        time.sleep(0.05)  # the server is failing: do not spin
                    continue
                item = rng.choice(plan.items)
                done = rng.random() < tick_share
                if record(item, done, "POST", item.path, f"done={int(done)}") >= 500:
                    time.sleep(0.05)
        finally:
            browser.close()

    threads = [
        threading.Thread(target=client, args=(i, plan), daemon=True) for i, plan in enumerate(plans)
    ]
    for thread in threads:
        thread.start()
    deadline_box.append(time.monotonic() + (seconds or 0.0))
    start.wait(timeout=60)
    for thread in threads:
        # A guard against a hung client, not a measure: ``stop``'s driver has its own.
        thread.join(timeout=(seconds or 0.0) + (requests or 0) * timeout + 600)
    if any(thread.is_alive() for thread in threads):
        raise RuntimeError("a client did not stop")
    return sorted((o for outcomes in results for o in outcomes), key=lambda o: o.started)


@dataclass
class Figures:
    requests: int
    posts: int
    pages: int
    seconds: float
    per_second: float
    statuses: dict[int, int]
    server_errors: int
    no_answer: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    def line(self) -> str:
        return (
            f"{self.requests} requests ({self.posts} POSTs, {self.pages} page GETs) in "
            f"{self.seconds:.1f}s = {self.per_second:.0f}/s; statuses {self.statuses}; "
            f"5xx {self.server_errors}; no answer {self.no_answer}; "
            f"p50 {self.p50_ms:.0f} ms, p95 {self.p95_ms:.0f} ms, p99 {self.p99_ms:.0f} ms, "
            f"max {self.max_ms:.0f} ms"
        )


def figures(outcomes: list[Outcome]) -> Figures:
    times = sorted(o.seconds * 1000 for o in outcomes) or [0.0]
    statuses: dict[int, int] = defaultdict(int)
    for outcome in outcomes:
        statuses[outcome.status] += 1
    span = (
        max(o.started + o.seconds for o in outcomes) - min(o.started for o in outcomes)
        if outcomes
        else 0.0
    )
    cuts = statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 else times * 99
    return Figures(
        requests=len(outcomes),
        posts=sum(1 for o in outcomes if o.item is not None),
        pages=sum(1 for o in outcomes if o.item is None),
        seconds=span,
        per_second=len(outcomes) / span if span else 0.0,
        statuses=dict(sorted(statuses.items())),
        server_errors=sum(1 for o in outcomes if o.status >= 500),
        no_answer=statuses.get(0, 0),
        p50_ms=cuts[49],
        p95_ms=cuts[94],
        p99_ms=cuts[98],
        max_ms=times[-1],
    )


# --- nothing lost --------------------------------------------------------------------------


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    learners: int = 0
    items_checked: int = 0
    uncertain_items: int = 0  # a request without a success answer came after the last success
    completions: int = 0
    level_changes: int = 0
    histories_replayed: int = 0
    levels: dict[int, int] = field(default_factory=dict)  # final level -> learners

    def line(self) -> str:
        return (
            f"{self.learners} learners, {self.items_checked} items checked "
            f"({self.uncertain_items} with an unanswered last request), {self.completions} "
            f"completions, {self.level_changes} level changes "
            f"({self.histories_replayed} histories replayed exactly), final levels "
            f"{dict(sorted(self.levels.items()))}; problems: {len(self.problems)}"
        )


@dataclass(frozen=True)
class State:
    """Learners as the database has them: level, what is done, level history."""

    levels: dict[int, int]
    done: dict[int, set[tuple[str, int]]]  # learner id -> {("key" | "module", id)}
    history: dict[int, list]  # learner id -> LevelChange rows in the order they were made
    learners: dict[int, object]

    @classmethod
    def read(cls, learner_ids) -> State:
        from learners.models import KeyCompletion, Learner, LevelChange, ModuleProgress

        ids = sorted(set(learner_ids))
        learners = {
            learner.pk: learner
            for learner in Learner.objects.filter(pk__in=ids).select_related("track", "user")
        }
        done: dict[int, set[tuple[str, int]]] = {pk: set() for pk in ids}
        for learner_id, key_id in KeyCompletion.objects.filter(learner_id__in=ids).values_list(
            "learner_id", "key_id"
        ):
            done[learner_id].add(("key", key_id))
        for learner_id, module_id in ModuleProgress.objects.filter(learner_id__in=ids).values_list(
            "learner_id", "module_id"
        ):
            done[learner_id].add(("module", module_id))
        history: dict[int, list] = {pk: [] for pk in ids}
        for row in LevelChange.objects.filter(learner_id__in=ids).order_by("id"):
            history[row.learner_id].append(row)
        return cls(
            levels={pk: learner.level for pk, learner in learners.items()},
            done=done,
            history=history,
            learners=learners,
        )


def check_nothing_lost(
    plans: list[ClientPlan],
    outcomes: list[Outcome],
    *,
    start: State,
    fault_effect: Callable[[Outcome], bool] | None = None,
) -> Verdict:
    """Compare the database with what the clients were told (see the module docstring).
    ``start``: the learners as they were before the clients ran. ``fault_effect``: the
    requests a fault may have failed with a 4xx (e.g. Django's 400 when a session's save
    meets a database outage); any other 4xx is a problem."""
    from curriculum.selectors import curriculum_rules
    from learners.placement import Progress, place
    from learners.selectors import learner_placement, learner_profile

    curriculum = curriculum_rules(fresh=True)
    verdict = Verdict()
    clients_of: dict[int, int] = defaultdict(int)
    items_of: dict[int, set[Item]] = defaultdict(set)
    for plan in plans:
        clients_of[plan.learner_id] += 1
        items_of[plan.learner_id] |= set(plan.items)
    posts: dict[int, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.item is not None:
            posts[outcome.learner_id].append(outcome)
        elif outcome.status not in (0, 200) and outcome.status < 500:
            # A page GET saves the session too: the fault may answer it 400 as well.
            if not (fault_effect is not None and fault_effect(outcome)):
                verdict.problems.append(f"learner {outcome.learner_id}: GET /progress/ {outcome}")

    ids = sorted(clients_of)
    end = State.read(ids)

    for learner_id in ids:
        learner = end.learners[learner_id]
        problems = verdict.problems
        where = f"learner {learner_id}"
        verdict.learners += 1
        # Each item's requests come from one client, in order (``outcomes`` is sorted).
        possible: dict[Item, set[bool]] = {
            item: {(item.kind, item.pk) in start.done[learner_id]} for item in items_of[learner_id]
        }
        for outcome in posts[learner_id]:
            expected = fault_effect is not None and fault_effect(outcome)
            if outcome.status and 400 <= outcome.status < 500 and not expected:
                problems.append(f"{where}: {outcome.item.path} answered {outcome.status}")
            if outcome.ok:
                possible[outcome.item] = {outcome.done}
            else:
                possible[outcome.item].add(outcome.done)
        done_ids = end.done[learner_id]
        verdict.completions += len(done_ids)
        for item, states in possible.items():
            verdict.items_checked += 1
            verdict.uncertain_items += len(states) > 1
            actual = (item.kind, item.pk) in done_ids
            if actual not in states:
                problems.append(
                    f"{where}: {item.kind} {item.name} is {'done' if actual else 'not done'} "
                    f"but the last successful request said {'done' if not actual else 'not done'}"
                )
        strangers = done_ids - {(item.kind, item.pk) for item in possible}
        if strangers:
            problems.append(f"{where}: completions nobody asked for: {sorted(strangers)}")

        placed = learner_placement(learner).level
        if learner.level != placed:
            problems.append(f"{where}: level {learner.level}, the placement rule gives {placed}")
        verdict.levels[learner.level] = verdict.levels.get(learner.level, 0) + 1

        before = {row.pk for row in start.history[learner_id]}
        chain = [row for row in end.history[learner_id] if row.pk not in before]
        verdict.level_changes += len(chain)
        level = start.levels[learner_id]
        for row in chain:
            if row.from_level != level or row.to_level == row.from_level:
                problems.append(
                    f"{where}: history row {row.pk} {row.from_level}->{row.to_level} "
                    f"does not follow level {level}"
                )
            level = row.to_level
        if level != learner.level:
            problems.append(f"{where}: history ends at {level}, the learner is at {learner.level}")
        times = [row.changed_at for row in chain]
        if times != sorted(times):
            problems.append(f"{where}: history times go back: {times}")
        if chain and learner.level_changed_at != chain[-1].changed_at:
            problems.append(
                f"{where}: level_changed_at {learner.level_changed_at} is not the last "
                f"change's {chain[-1].changed_at}"
            )

        if clients_of[learner_id] == 1 and all(o.ok for o in posts[learner_id]):
            verdict.histories_replayed += 1
            expected = _replay(
                curriculum,
                learner_profile(learner),
                posts[learner_id],
                start,
                items_of[learner_id],
                place,
                Progress,
            )
            got = [(row.from_level, row.to_level) for row in chain]
            if got != expected:
                problems.append(f"{where}: history {got}, replaying the requests gives {expected}")
    return verdict


def _replay(
    curriculum, profile, posts, start: State, items, place, progress_class
) -> list[tuple[int, int]]:
    """The level changes the successful requests make, in order, by the placement rule."""
    learner_id = posts[0].learner_id if posts else None
    if learner_id is None:
        return []
    done = start.done[learner_id]
    keys = {item.name for item in items if item.kind == "key" and ("key", item.pk) in done}
    modules = {
        int(item.name) for item in items if item.kind == "module" and ("module", item.pk) in done
    }
    level = start.levels[learner_id]
    changes = []
    for outcome in posts:
        if not outcome.ok:
            continue
        item = outcome.item
        target = keys if item.kind == "key" else modules
        value = item.name if item.kind == "key" else int(item.name)
        if outcome.done:
            target.add(value)
        else:
            target.discard(value)
        new = place(curriculum, profile, progress_class(frozenset(modules), frozenset(keys))).level
        if new != level:
            changes.append((level, new))
            level = new
    return changes
