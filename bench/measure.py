"""One measurement in a fresh process: ``python bench/measure.py WHAT [options]``.

``bench/run.py`` calls it once per measurement and size, so that peak memory is the
measurement's own and no cache survives from one to the next. The result is one JSON line
on stdout, prefixed with ``BENCH_RESULT``. Settings: ``bench.settings``; database:
``DATABASE_URL`` (set by run.py).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import re
import resource
import statistics
import sys
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from learners import roster  # noqa: E402

RESULT_PREFIX = "BENCH_RESULT "
WRITE_TABLE = re.compile(r'^\s*(UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


class QueryCounter:
    """Counts every statement sent to the database, by kind, and the rows each write touched."""

    def __init__(self) -> None:
        self.total = 0
        self.kinds: Counter[str] = Counter()
        self.rows_written: Counter[str] = Counter()
        self.statements: Counter[str] = Counter()

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        self.total += 1
        kind = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
        self.kinds[kind] += 1
        self.statements[_shape(sql)] += 1
        match = WRITE_TABLE.match(sql)
        if match:
            rowcount = context["cursor"].rowcount
            verb = match.group(1).split()[0].upper()
            self.rows_written[f"{verb} {match.group(2)}"] += max(rowcount, 0)
        return result

    def as_dict(self) -> dict:
        return {
            "queries": self.total,
            "by_kind": dict(self.kinds),
            "rows_written": dict(self.rows_written),
            "top_statements": [
                {"count": count, "sql": sql} for sql, count in self.statements.most_common(8)
            ],
        }


def _shape(sql: str) -> str:
    """The statement with its literals and IN lists folded, to group repeats (N+1)."""
    shape = re.sub(r"\bIN \([^)]*\)", "IN (...)", sql)
    shape = re.sub(r"'[^']*'|\b\d+\b", "?", shape)
    return shape[:160]


@contextmanager
def counting():
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        yield counter


def rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(result: dict) -> None:
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)


# --- seed -------------------------------------------------------------------------------


def do_seed(args) -> dict:
    from bench.seed import seed

    report = seed(args.learners)
    return report.__dict__


# --- progress page: queries in-process, sessions for the load tool ----------------------


def _submitted_learners():
    from learners.models import Learner

    return Learner.objects.filter(assessment_submitted_at__isnull=False, track__isnull=False)


def do_progress(args) -> dict:
    """Queries of /progress/ (a cache miss, then a hit) for the learners with the least and
    the most progress and one at level 4, and session cookies of a random sample of
    learners for wrk."""
    import redis
    from django.db.models import Count

    from curriculum.selectors import curriculum_rules
    from learners.models import Learner

    # The bench's own Redis database. Pages are cached by learner id, and the database of
    # the other size has the same ids: start empty so that no page of the other comes back.
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    learners = _submitted_learners().annotate(
        done=Count("key_completions", distinct=True) + Count("module_progress", distinct=True)
    )
    least = learners.order_by("done", "pk").first()
    most = learners.order_by("-done", "pk").first()
    top = _submitted_learners().filter(level=4).order_by("pk").first()
    samples = {"least progress": least, "most progress": most, "level 4": top}
    queries = {}
    for label, learner in samples.items():
        if learner is None:
            continue
        client = Client()
        client.force_login(learner.user)
        client.get("/bench/signed-in")  # the session is in the cache from here
        curriculum_rules()  # and so is the curriculum
        for cache_state in ("miss", "hit"):  # the first view renders the body, the next reads it
            with CaptureQueriesContext(connection) as captured:
                response = client.get("/progress/")
            queries[f"{label} ({cache_state})"] = {
                "learner": learner.pk,
                "done": getattr(learner, "done", None),
                "status": response.status_code,
                "queries": len(captured),
                "sql": [query["sql"][:200] for query in captured.captured_queries],
            }
    client = Client()
    client.force_login(least.user)
    for url in ("/healthz", "/bench/signed-in", "/bench/signed-in-layout"):
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        queries[url] = {"status": response.status_code, "queries": len(captured)}

    rng = random.Random(6)
    ids = list(_submitted_learners().values_list("pk", flat=True))
    chosen = rng.sample(ids, min(args.sessions, len(ids)))
    cookies = []
    for learner in Learner.objects.filter(pk__in=chosen).select_related("user"):
        client = Client()
        client.force_login(learner.user)
        cookies.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    Path(args.cookies).write_text("\n".join(cookies) + "\n")
    ticks = _tick_lines(chosen)
    Path(args.cookies).with_suffix(".ticks").write_text("\n".join(ticks) + "\n")
    queries.update(_tick_queries(ticks[0]))
    return {
        "tick_learners": len(ticks),
        "queries": queries,
        "sessions": len(cookies),
        "cookie_name": settings.SESSION_COOKIE_NAME,
        "csrf_cookie_name": settings.CSRF_COOKIE_NAME,
        "conn_max_age": settings.DATABASES["default"].get("CONN_MAX_AGE"),
    }


def _tick_lines(learner_ids: list[int]) -> list[str]:
    """For the tick's round trip (bench/wrk_tick.lua): "<session key> <key id>" for each of
    these learners who has a key to tick by hand at their level, not ticked yet, whose tick
    moves no level (two or more keys still needed, or at the top), so ticking and unticking
    it only ever changes that key. Sessions of their own (a tick may rotate nothing, but the
    GET sessions stay the page's)."""
    from curriculum.selectors import curriculum_rules
    from learners.models import Learner
    from learners.selectors import learner_placement, learner_progress

    rules = curriculum_rules()
    lines = []
    learners = Learner.objects.filter(pk__in=learner_ids).select_related("user", "track")
    for learner in learners.order_by("pk"):
        placement = learner_placement(learner, rules, learner_progress(learner))
        steps = placement.next_steps
        if not (steps.maintaining or steps.keys_needed >= 2):
            continue
        keys = rules.tracks[learner.track.slug].keys.get(learner.level, ())
        key = next(
            (k for k in keys if not k.module_numbers and k.code not in placement.done_keys), None
        )
        if key is None:
            continue
        client = Client()
        client.force_login(learner.user)
        lines.append(f"{client.cookies[settings.SESSION_COOKIE_NAME].value} {key.id}")
    return lines


def _tick_queries(line: str) -> dict:
    """Queries of one tick and one untick (the htmx POST and its answer), in-process."""
    from django.contrib.sessions.backends.base import SessionBase
    from django.utils.module_loading import import_string

    session_key, key_id = line.split()
    store: SessionBase = import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key)
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    user_id = store.get("_auth_user_id")
    out = {}
    for done in ("1", "0"):
        with CaptureQueriesContext(connection) as captured:
            response = client.post(
                f"/progress/keys/{key_id}/", {"done": done}, HTTP_HX_REQUEST="true"
            )
        out[f"tick (done={done})"] = {
            "learner_user": user_id,
            "status": response.status_code,
            "queries": len(captured),
            "sql": [query["sql"][:200] for query in captured.captured_queries],
        }
    return out


# --- admin learner list -----------------------------------------------------------------


def do_admin(args) -> dict:
    from bench.seed import ADMIN_EMAIL
    from curriculum.models import Track
    from learners.models import User

    client = Client()
    client.force_login(User.objects.get(email=ADMIN_EMAIL))
    engineer = Track.objects.get(slug="engineer").pk
    changelist = reverse("admin:learners_learner_changelist")
    pages = {
        "unfiltered": changelist,
        "track": f"{changelist}?track__id__exact={engineer}",
        "track + level": f"{changelist}?track__id__exact={engineer}&level=2",
        "page 50": f"{changelist}?p=50",
        "search": f"{changelist}?q=learner00012",
    }
    results = {}
    for label, url in pages.items():
        response = client.get(url)  # warm: curriculum cache, templates
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        slowest = max(captured.captured_queries, key=lambda q: float(q["time"]), default=None)
        results[label] = {
            "url": url,
            "status": response.status_code,
            "p50_ms": statistics.median(times),
            "min_ms": min(times),
            "max_ms": max(times),
            "queries": len(captured),
            "sql_ms": sum(float(query["time"]) for query in captured.captured_queries) * 1000,
            "sql": [(query["time"], query["sql"][:300]) for query in captured.captured_queries],
            "slowest_sql": slowest["sql"] if slowest else "",
            "slowest_ms": float(slowest["time"]) * 1000 if slowest else 0,
        }
    return results


# --- insights page and the stuck-point filter --------------------------------------------


def do_insights(args) -> dict:
    """The insights page of a track (all learners, one cohort), and the learner list filtered
    to its most common stuck point beside the list filtered by track alone."""
    from bench.seed import ADMIN_EMAIL
    from curriculum.models import Track
    from learners.insights.selectors import insights_figures
    from learners.models import Cohort, User

    client = Client()
    client.force_login(User.objects.get(email=ADMIN_EMAIL))
    track = Track.objects.get(slug="engineer")
    cohort = Cohort.objects.order_by("pk").values_list("pk", flat=True).first()
    stuck = insights_figures(track=track).stuck
    code = stuck[0].code if stuck else "m1"
    insights = reverse("admin_insights")
    changelist = reverse("admin:learners_learner_changelist")
    pages = {
        # As instructors see it: the figures from the shared cache (beat refreshes them).
        "insights, track": f"{insights}?track={track.pk}",
        "insights, one cohort": f"{insights}?track={track.pk}&cohort={cohort}",
        # What the hourly refresh (or "refresh now") costs for one view.
        "insights, track, recomputed": f"{insights}?track={track.pk}&fresh=1",
        "insights, one cohort, recomputed": f"{insights}?track={track.pk}&cohort={cohort}&fresh=1",
        "list, track": f"{changelist}?track__id__exact={track.pk}",
        "list, stuck point": f"{changelist}?track__id__exact={track.pk}&stuck={code}",
        "list, never started": f"{changelist}?track__id__exact={track.pk}&progress=never",
        "list, inactive": f"{changelist}?track__id__exact={track.pk}&inactive=14",
    }
    results = {"stuck_point": code, "pages": {}}
    for label, url in pages.items():
        response = client.get(url)  # warm: curriculum cache, templates
        times = []
        # A recompute takes seconds at 100k: a few runs say enough.
        for _ in range(3 if label.endswith("recomputed") else args.repeat):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        slowest = max(captured.captured_queries, key=lambda q: float(q["time"]), default=None)
        results["pages"][label] = {
            "url": url,
            "status": response.status_code,
            "p50_ms": statistics.median(times),
            "min_ms": min(times),
            "max_ms": max(times),
            "queries": len(captured),
            "sql_ms": sum(float(query["time"]) for query in captured.captured_queries) * 1000,
            "slowest_ms": float(slowest["time"]) * 1000 if slowest else 0,
            "slowest_sql": slowest["sql"][:2000] if slowest else "",
        }
    return results


# --- recompute_levels -------------------------------------------------------------------


def do_recompute(args) -> dict:
    from django.core.management import call_command

    from learners.models import Learner, LevelChange

    learners = Learner.objects.count()
    history_before = LevelChange.objects.count()
    connection.close()
    baseline = rss_mb()
    runs = []
    for _ in range(2):  # the second run finds every level right: it must write nothing
        out = io.StringIO()
        with counting() as counter:
            started = time.perf_counter()
            call_command("recompute_levels", stdout=out)
            seconds = time.perf_counter() - started
        runs.append({"seconds": seconds, "output": out.getvalue().strip(), **counter.as_dict()})
    return {
        "learners": learners,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": rss_mb(),
        "history_rows_added": LevelChange.objects.count() - history_before,
        "runs": runs,
    }


# --- nudge sweep ------------------------------------------------------------------------


class SmtpSink:
    """An aiosmtpd handler that accepts every message and notes when they arrive."""

    def __init__(self) -> None:
        self.count = 0
        self.first: float | None = None
        self.last: float | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        now = time.perf_counter()
        self.count += 1
        self.first = self.first or now
        self.last = now
        return "250 OK"


def _sweep_moment():
    """The next half hour (within a day of now) at which the most learners are at 09:xx
    local time, so that next_step nudges are due for a realistic share of them."""
    from datetime import timedelta

    from django.db.models import Count
    from django.utils import timezone

    from learners.models import Learner
    from learners.nudges.rules import NEXT_STEP_LOCAL_HOUR, local_time

    zones = dict(Learner.objects.order_by().values_list("timezone").annotate(n=Count("pk")))
    start = timezone.now().replace(minute=30, second=0, microsecond=0)
    moments = [start + timedelta(hours=h) for h in range(24)]
    return max(
        moments,
        key=lambda at: sum(
            n for zone, n in zones.items() if local_time(at, zone).hour == NEXT_STEP_LOCAL_HOUR
        ),
    )


def do_sweep(args) -> dict:
    """The sweep as ``send_nudges`` runs it, on a Redis broker, then a real Celery worker
    sending to a local SMTP server."""
    import subprocess

    import redis
    from aiosmtpd.controller import Controller
    from celery.signals import before_task_publish
    from django.db.models import Count

    from bench.celery_worker import QUERIES_KEY, TASKS_KEY
    from learners.models import Learner
    from learners.nudges.models import Nudge
    from learners.nudges.services.sweep import nudges_sweep

    if settings.CELERY_TASK_ALWAYS_EAGER:
        raise RuntimeError("set REDIS_URL: the sweep is measured on a real broker")
    broker = redis.Redis.from_url(settings.REDIS_URL)
    broker.flushdb()  # the bench's own Redis database: queue and counters start empty
    published: list[str] = []

    def on_publish(sender=None, **kwargs):
        published.append(sender)

    before_task_publish.connect(on_publish, weak=False)

    sink = SmtpSink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()

    at = _sweep_moment()
    learners = Learner.objects.count()
    ledger_before = Nudge.objects.count()
    connection.close()
    baseline = rss_mb()
    with counting() as counter:
        started = time.perf_counter()
        report = nudges_sweep(now=at)
        decide_seconds = time.perf_counter() - started
    peak = rss_mb()
    queue_length = broker.llen("celery")
    created = dict(
        Nudge.objects.filter(created_at=at).order_by().values_list("kind").annotate(n=Count("pk"))
    )
    due = sum(created.values())

    # The sending half: a real worker on the same broker and an SMTP server.
    env = {**os.environ, "EMAIL_URL": f"smtp://127.0.0.1:{port}"}
    worker = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("celery")),
            "-A",
            "bench.celery_worker",
            "worker",
            "--concurrency",
            str(args.workers),
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    send_started = time.perf_counter()
    statuses: dict = {}
    deferred = 0
    try:
        deadline = send_started + args.timeout
        while time.perf_counter() < deadline:
            time.sleep(0.5)
            statuses = dict(
                Nudge.objects.filter(created_at=at)
                .order_by()
                .values_list("status")
                .annotate(n=Count("pk"))
            )
            # Rows deferred by the budget (pending, not before a later moment) and rows held
            # out are done for this sweep: waiting for them never ends.
            deferred = Nudge.objects.filter(
                created_at=at, status="pending", not_before__isnull=False
            ).count()
            if statuses.get("pending", 0) == deferred and not statuses.get("sending"):
                break
        send_seconds = time.perf_counter() - send_started
        # The last task's counters are written just after its rows are marked sent.
        wait_until = time.perf_counter() + 10
        while int(broker.get(TASKS_KEY) or 0) < len(published) and time.perf_counter() < wait_until:
            time.sleep(0.2)
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(timeout=60)
        controller.stop()
    sending = (sink.last - sink.first) if sink.count > 1 else None
    worker_queries = int(broker.get(QUERIES_KEY) or 0)
    worker_tasks = int(broker.get(TASKS_KEY) or 0)
    return {
        "at": at.isoformat(),
        "learners": learners,
        "chunks": report.chunks,
        "decide_seconds": decide_seconds,
        "due": due,
        "due_by_kind": created,
        "ledger_rows_before": ledger_before,
        "celery_messages": len(published),
        "celery_tasks": sorted(set(published)),
        "queue_length_after_sweep": queue_length,
        "handed": report.handed,
        "not_handed": report.not_handed,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak,
        **counter.as_dict(),
        "emails": sink.count,
        "statuses_after": statuses,
        "decided": due,
        "sent": statuses.get("sent", 0),
        "deferred": deferred,
        "held_out": statuses.get("held_out", 0),
        "send_seconds_total": send_seconds,
        "emails_per_second": sink.count / sending if sending else None,
        "worker_concurrency": args.workers,
        "worker_tasks": worker_tasks,
        "worker_queries": worker_queries,
        "worker_queries_per_email": worker_queries / sink.count if sink.count else None,
    }


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- roster import ----------------------------------------------------------------------

ROSTER_COLUMNS = list(roster.COLUMNS)


def roster_csv(rows: int, existing: list[str], seed_value: int = 6) -> str:
    """A roster of ``rows`` learners: new ones, and the ``existing`` emails again (updates)."""
    from bench.seed import TIMEZONES, _completed_modules, _engineer_answers, _founder_answers
    from curriculum.selectors import curriculum_rules

    rng = random.Random(seed_value)
    rules = curriculum_rules(fresh=True)
    tickable = {
        slug: {
            level: [key.code for key in keys if not key.module_linked]
            for level, keys in track.keys.items()
        }
        for slug, track in rules.tracks.items()
    }
    zones = [name for name, _ in TIMEZONES]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(ROSTER_COLUMNS)
    emails = existing + [f"import{i:07d}@import.bench.example" for i in range(rows - len(existing))]
    for email in emails:
        row = dict.fromkeys(ROSTER_COLUMNS, "")
        row.update(email=email, first_name="Roster", last_name=f"Learner {email[:12]}")
        row.update(cohort=f"Imported cohort {rng.randint(1, 5)}", timezone=rng.choice(zones))
        row["nudges_enabled"] = "yes" if rng.random() < 0.9 else "no"
        if rng.random() < 0.9:
            slug = rng.choices(["engineer", "founder"], [62, 38])[0]
            answers = (_engineer_answers if slug == "engineer" else _founder_answers)(rng)
            row["track"] = slug
            for name, value in answers.items():
                if isinstance(value, bool):
                    value = "yes" if value else "no"
                row[name] = "" if value is None else str(value)
            modules = _completed_modules(rng)
            row["completed_modules"] = ";".join(map(str, modules))
            keys = [
                code
                for level, codes in tickable[slug].items()
                if level <= len(modules) // 3 + 1
                for code in codes
                if rng.random() < 0.6
            ]
            row["completed_keys"] = ";".join(keys)
        writer.writerow([row[column] for column in ROSTER_COLUMNS])
    return out.getvalue()


def do_import(args) -> dict:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from learners.models import Learner, User

    existing = list(
        User.objects.filter(learner__isnull=False)
        .order_by("?")
        .values_list("email", flat=True)[: args.rows // 10]
    )
    path = Path(args.roster)
    path.write_text(roster_csv(args.rows, existing))
    before = Learner.objects.count()
    connection.close()
    baseline = rss_mb()
    out, err = io.StringIO(), io.StringIO()
    with counting() as counter:
        started = time.perf_counter()
        try:
            call_command("import_learners", str(path), stdout=out, stderr=err)
            ok = True
        except CommandError as error:
            ok = False
            err.write(str(error))
        seconds = time.perf_counter() - started
    return {
        "rows": args.rows,
        "existing_rows": len(existing),
        "ok": ok,
        "seconds": seconds,
        "learners_added": Learner.objects.count() - before,
        "output": out.getvalue().strip()[-500:],
        "errors": err.getvalue().strip()[:1500],
        "baseline_rss_mb": baseline,
        "peak_rss_mb": rss_mb(),
        **counter.as_dict(),
    }


# --- explain ----------------------------------------------------------------------------


def do_explain(args) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) of one statement, for the report's evidence."""
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + args.sql)
        return {"plan": "\n".join(row[0] for row in cursor.fetchall())}


def do_profile(args) -> dict:
    """cProfile of ``--repeat`` GETs of ``--url`` (as a learner, or the bench admin for
    /admin/ URLs): the functions with the most cumulative and own time."""
    import cProfile
    import pstats

    from bench.seed import ADMIN_EMAIL
    from learners.models import User

    client = Client()
    if args.url.startswith(reverse("admin:index")):
        user = User.objects.get(email=ADMIN_EMAIL)
    else:
        user = _submitted_learners().order_by("-level", "pk").first().user
    client.force_login(user)
    client.get(args.url)
    started = time.perf_counter()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.repeat):
        client.get(args.url)
    profiler.disable()
    per_request = (time.perf_counter() - started) / args.repeat * 1000
    report = {}
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(25)
        report[order] = out.getvalue()
    return {"url": args.url, "ms_per_request_profiled": per_request, **report}


COMMANDS = {
    "seed": do_seed,
    "progress": do_progress,
    "admin": do_admin,
    "insights": do_insights,
    "recompute": do_recompute,
    "import": do_import,
    "sweep": do_sweep,
    "explain": do_explain,
    "profile": do_profile,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=sorted(COMMANDS))
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--cookies", default="/tmp/bench-cookies.txt")  # noqa: S108
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--roster", default="/tmp/bench-roster.csv")  # noqa: S108
    parser.add_argument("--sql", default="SELECT 1")
    parser.add_argument("--url", default="/progress/")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args(argv)
    emit(COMMANDS[args.what](args))


if __name__ == "__main__":
    main()
