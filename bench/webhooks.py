"""The webhook receiver at a cohort's scale (issue 17, §6 and the flood of §2), in one run:

    .venv/bin/python -m bench.webhooks [--learners 10000] [--events 10000] [--only intake,...]

1. **intake**: gunicorn (``bench.settings``, 4 gthread workers x 4 threads as the README's
   production command; ``--worker-class sync`` for the other) answering signed Standard
   Webhooks deliveries, each unique (``webhook-id``), signed with a fresh timestamp just
   before its wrk run, a ``lesson.completed`` of a mapped lesson by an existing learner;
   beside ``/healthz`` with the same tool (wrk, one thread) in the same run, at 1 and 8
   clients. No worker runs meanwhile (the intake alone); every answer must be 202.
2. **flood**: 1,000 unauthenticated 1 MB POSTs (to the plain URL of a signed connection and
   to a Teachable URL with a wrong token; Content-Length honest, absent (chunked) or
   understated), each from its own client address (``X-Forwarded-For`` through the local
   proxy, the worst case for the per-client limit), then again from one address: the
   database's size (``pg_database_size`` after VACUUM and CHECKPOINT) before and after, the
   rows of ``integrations_webhookevent`` and ``integrations_deliveryrefusal``, the statuses.
3. **processing**: ``--events`` completions, each stored by the receiver's own service
   (``webhook_receive``: stored as received, then handed to the Redis queue as the
   receiver hands each delivery, ``webhook_events_hand``), then a real Celery worker
   (``--concurrency 2``, prefork) started: the wall time from its start until every
   event is settled; each event processed once (a count per learner of the completions
   applied, ``bench/webhooks_worker.py``), the ModuleProgress rows as expected.

Database: ``BENCH_HOOKS_DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/bench_hooks;
dropped and created, migrated, seeded with ``bench/seed.py``; ``--reuse`` keeps it). Redis:
``BENCH_HOOKS_REDIS_URL`` (default redis://127.0.0.1:6379/14; flushed). Needs ``wrk``.
Results: ``bench/results/<date>-webhooks.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import datetime as dt
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
PARTS = ("intake", "flood", "processing")
STANDARD_SLUG, TEACHABLE_SLUG = "bench-standard", "bench-teachable"
COURSE_ID = "bench-course"
LEARNER_EMAIL_DOMAIN = "bench.example"

# Targets (issue 17, §6 and §2).
INTAKE_P50_RATIO = 3.0  # intake p50 within 3x /healthz p50, at 1 and 8 clients
INTAKE_RPS_8 = 500  # answered per second at 8 clients
PROCESSING_SECONDS = 60  # 10,000 queued events settled by 2 worker processes
FLOOD_GROWTH_BYTES = 1024 * 1024  # 1,000 unauthenticated 1 MB POSTs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=10_000, help="queued for the worker")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated: {PARTS}")
    parser.add_argument("--reuse", action="store_true", help="keep the seeded database")
    parser.add_argument("--duration", type=int, default=10, help="wrk seconds per run")
    parser.add_argument("--rounds", type=int, default=2, help="wrk runs of each URL")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--flood", type=int, default=1000, help="1 MB POSTs per flood")
    parser.add_argument("--timeout", type=float, default=600, help="processing gives up after")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    only = [part.strip() for part in args.only.split(",") if part.strip()]
    if set(only) - set(PARTS):
        parser.error(f"--only takes {', '.join(PARTS)}")
    if "intake" in only and not shutil.which("wrk"):
        parser.error("wrk is not installed (Debian/Ubuntu: apt-get install -y wrk)")

    database_url = os.environ.get(
        "BENCH_HOOKS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_hooks"
    )
    redis_url = os.environ.get("BENCH_HOOKS_REDIS_URL", "redis://127.0.0.1:6379/14")
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_SECRET_KEY": "bench-" + secrets.token_urlsafe(50),
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        # Level-up nudges the completions cause are "sent" in memory: no SMTP server.
        "EMAIL_URL": "memorymail://",
    }
    os.environ.update(env)
    results: dict = {
        "started": _now(),
        "machine": _machine(),
        "code": _code_version(),
        "args": {key: str(value) for key, value in vars(args).items()},
        "load_start": _load(),
    }
    results["build"] = _build(database_url, args, env)

    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    bench = Bench(args, env, database_url, redis_url)
    bench.prepare()
    results["setup"] = bench.setup_report
    tmp = Path(tempfile.mkdtemp(prefix="bench-hooks-"))
    if "intake" in only or "flood" in only:
        with Gunicorn(env, args) as server:
            if "intake" in only:
                results["intake"] = _part("intake", lambda: bench.intake(server.url, tmp))
            if "flood" in only:
                results["flood"] = _part("flood", lambda: bench.flood(server.url))
    if "processing" in only:
        results["processing"] = _part("processing", bench.processing)
    results["load_end"] = _load()
    results["finished"] = _now()
    path = _write(results, args.output)
    print(render(results))
    print(f"\nWritten to {path} (and {path.with_suffix('.json').name}).")
    return 0


def _part(name: str, run) -> dict:
    print(f"--- {name}", flush=True)
    load_before = _load()
    started = time.perf_counter()
    try:
        out = run()
    except Exception as error:  # noqa: BLE001 - one failure must not lose the others
        import traceback

        traceback.print_exc()
        out = {"error": f"{type(error).__name__}: {error}"[:2000]}
    out["load_before"], out["load_after"] = load_before, _load()
    out["part_seconds"] = round(time.perf_counter() - started, 1)
    print(f"    {out['part_seconds']} s, load {load_before} -> {out['load_after']}", flush=True)
    return out


# --- build ------------------------------------------------------------------------------


def _build(database_url: str, args, env: dict) -> dict:
    import psycopg

    name = urlsplit(database_url).path.lstrip("/")
    admin = urlunsplit(urlsplit(database_url)._replace(path="/postgres"))
    if args.reuse:
        try:
            with psycopg.connect(database_url) as conn:
                count = conn.execute("SELECT count(*) FROM learners_learner").fetchone()[0]
            if count >= args.learners:
                return {"reused": True, "learners": count}
        except psycopg.Error:
            pass
    started = time.perf_counter()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], env=env, cwd=ROOT, check=True
    )
    seeded = subprocess.run(
        [PYTHON, str(BENCH / "measure.py"), "seed", "--learners", str(args.learners)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if seeded.returncode:
        raise RuntimeError(f"seed failed: {seeded.stderr[-1500:]}")
    print(f"    built {name} in {time.perf_counter() - started:.0f} s", flush=True)
    return {"reused": False, "learners": args.learners, "seconds": time.perf_counter() - started}


# --- the bench --------------------------------------------------------------------------


class Bench:
    def __init__(self, args, env: dict, database_url: str, redis_url: str):
        self.args = args
        self.env = env
        self.database_url = database_url
        self.redis_url = redis_url
        self.rng = random.Random(17)
        self.setup_report: dict = {}

    def prepare(self) -> None:
        """Two connections (Standard, signed; Teachable, by URL token), a lesson of the
        course mapped to each module, the learners who will complete them."""
        from curriculum.models import Module
        from learners.integrations.models import (
            DeliveryRefusal,
            ModuleMapping,
            PlatformConnection,
            WebhookEvent,
        )
        from learners.models import Learner

        self.redis().flushdb()
        WebhookEvent.objects.all().delete()
        DeliveryRefusal.objects.all().delete()
        PlatformConnection.objects.filter(slug__in=[STANDARD_SLUG, TEACHABLE_SLUG]).delete()
        self.secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        self.standard = PlatformConnection.objects.create(
            name="Bench Standard", slug=STANDARD_SLUG, kind="standard", secrets=self.secret
        )
        self.teachable = PlatformConnection.objects.create(
            name="Bench Teachable", slug=TEACHABLE_SLUG, kind="teachable"
        )
        self.lessons: dict[str, int] = {}
        for module in Module.objects.order_by("number"):
            lesson = f"lesson-{module.number}"
            for connection in (self.standard, self.teachable):
                ModuleMapping.objects.create(
                    connection=connection, course_id=COURSE_ID, lesson_id=lesson, module=module
                )
            self.lessons[lesson] = module.pk
        self.learners = list(
            Learner.objects.filter(user__is_staff=False, user__is_superuser=False)
            .order_by("pk")
            .values_list("pk", "user__email")
        )
        self.setup_report = {
            "learners": len(self.learners),
            "mapped_lessons": len(self.lessons),
            "connections": [STANDARD_SLUG, TEACHABLE_SLUG],
        }

    def redis(self):
        import redis

        return redis.Redis.from_url(self.redis_url)

    def delivery(self, email: str, lesson: str, *, at: dt.datetime | None = None):
        """One signed Standard Webhooks delivery: (id, timestamp, signature, body)."""
        from standardwebhooks.webhooks import Webhook

        at = at or dt.datetime.now(dt.UTC)
        message_id = f"msg_{secrets.token_hex(12)}"
        body = json.dumps(
            {
                "type": "lesson.completed",
                "timestamp": at.isoformat().replace("+00:00", "Z"),
                "data": {
                    "email": email,
                    "course_id": COURSE_ID,
                    "lesson_id": lesson,
                    "completed_at": at.isoformat().replace("+00:00", "Z"),
                },
            },
            separators=(",", ":"),
        )
        signature = Webhook(self.secret).sign(message_id, at, body)
        return message_id, str(int(at.timestamp())), signature, body

    # intake ------------------------------------------------------------------------------

    def intake(self, base: str, tmp: Path) -> dict:
        from django.db.models import Count

        from learners.integrations.models import WebhookEvent

        url = f"{base}/webhooks/{STANDARD_SLUG}/"
        lessons = list(self.lessons)
        per_run = self.args.duration * 2000

        def deliveries(count: int) -> Path:
            path = tmp / f"deliveries-{secrets.token_hex(4)}.tsv"
            now = dt.datetime.now(dt.UTC)
            with path.open("w") as out:
                for _ in range(count):
                    _, email = self.rng.choice(self.learners)
                    out.write("\t".join(self.delivery(email, self.rng.choice(lessons), at=now)))
                    out.write("\n")
            return path

        def run(target: str, connections: int, duration: int | None = None) -> dict:
            if target == "intake":
                return _wrk(
                    url,
                    connections,
                    duration or self.args.duration,
                    202,
                    deliveries(per_run if duration is None else duration * 2000),
                )
            return _wrk(f"{base}/healthz", connections, duration or self.args.duration, 200)

        events_before = WebhookEvent.objects.count()
        for target in ("healthz", "intake"):  # warm every worker: imports, connections
            run(target, max(self.args.connections), duration=3)
        warm_events = WebhookEvent.objects.count() - events_before
        out: dict = {"by_clients": {}, "url": url, "commit_probe": _commit_probe(self.database_url)}
        sessions_before = _pg_sessions(self.database_url)
        answered = 0
        started_events = WebhookEvent.objects.count()
        for connections in self.args.connections:
            runs: dict[str, list] = {"healthz": [], "intake": []}
            for _ in range(self.args.rounds):
                for target in ("healthz", "intake"):
                    runs[target].append(run(target, connections))
            answered += sum(r["requests"] for r in runs["intake"])
            combined = {target: _combine(rs) for target, rs in runs.items()}
            combined["p50_ratio"] = combined["intake"]["p50_us"] / combined["healthz"]["p50_us"]
            out["by_clients"][connections] = combined
        out["pg_sessions_opened"] = _pg_sessions(self.database_url) - sessions_before
        stored = WebhookEvent.objects.count() - started_events
        out["events_stored"] = stored
        out["requests_answered"] = answered
        out["warm_up_events"] = warm_events
        out["statuses_stored"] = dict(
            WebhookEvent.objects.order_by().values_list("status").annotate(n=Count("pk"))
        )
        out["queue_length"] = self.redis().llen("celery")
        out["gunicorn"] = {
            "worker_class": self.args.worker_class,
            "workers": self.args.workers,
            "threads": self.args.threads if self.args.worker_class == "gthread" else 1,
        }
        out["wrk"] = {
            "threads": 1,
            "duration": self.args.duration,
            "rounds": self.args.rounds,
            "deliveries_per_file": per_run,
        }
        return out

    # flood -------------------------------------------------------------------------------

    def flood(self, base: str) -> dict:
        from django.db import connection

        from learners.integrations.models import DeliveryRefusal, WebhookEvent

        kinds = [
            ("signed connection, plain URL, honest Content-Length", STANDARD_SLUG, "", "honest"),
            (
                "signed connection, plain URL, chunked (no Content-Length)",
                STANDARD_SLUG,
                "",
                "chunked",
            ),
            (
                "signed connection, plain URL, Content-Length 1 KB (understated)",
                STANDARD_SLUG,
                "",
                "understated",
            ),
            (
                "Teachable URL, wrong token, honest Content-Length",
                TEACHABLE_SLUG,
                "x" * 43,
                "honest",
            ),
            (
                "Teachable URL, wrong token, chunked (no Content-Length)",
                TEACHABLE_SLUG,
                "x" * 43,
                "chunked",
            ),
        ]
        host, port = urlsplit(base).hostname, urlsplit(base).port
        name = connection.settings_dict["NAME"]
        out: dict = {"passes": {}}
        for label, distinct in (("from 1,000 addresses", True), ("from one address", False)):
            self.redis().flushdb()  # the rate limits' counters start at zero
            before = _database_state(name)
            plan = [
                (
                    kinds[i % len(kinds)],
                    f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
                    if distinct
                    else "10.99.99.99",
                )
                for i in range(self.args.flood)
            ]
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(20) as pool:
                answers = list(
                    pool.map(lambda item: _flood_post(host, port, item[0], item[1]), plan)
                )
            seconds = time.perf_counter() - started
            after = _database_state(name)
            by_kind: dict[str, Counter] = {}
            for (kind, _), status in zip(plan, answers, strict=True):
                by_kind.setdefault(kind[0], Counter())[str(status)] += 1
            out["passes"][label] = {
                "posts": len(plan),
                "bytes_each": FLOOD_BODY_BYTES,
                "seconds": seconds,
                "statuses": dict(Counter(str(status) for status in answers)),
                "statuses_by_kind": {kind: dict(counter) for kind, counter in by_kind.items()},
                "before": before,
                "after": after,
                "growth_bytes": after["database_bytes"] - before["database_bytes"],
            }
        out["refusals_kept"] = DeliveryRefusal.objects.count()
        out["webhook_events"] = WebhookEvent.objects.count()
        return out

    # processing --------------------------------------------------------------------------

    def processing(self) -> dict:
        from django.db.models import Count, Max, Min
        from django.utils import timezone

        from bench.webhooks_worker import APPLIED_KEY
        from learners.integrations import platforms
        from learners.integrations.models import EventStatus, WebhookEvent
        from learners.integrations.services.replay import webhook_events_hand
        from learners.models import Learner, ModuleProgress

        broker = self.redis()
        broker.flushdb()
        WebhookEvent.objects.all().delete()  # the intake's events: never handed to a worker
        count = min(self.args.events, len(self.learners))
        chosen = self.rng.sample(self.learners, count)
        lessons = list(self.lessons)
        plan = {pk: (email, self.rng.choice(lessons)) for pk, email in chosen}
        pairs = {(pk, self.lessons[lesson]) for pk, (_, lesson) in plan.items()}
        existing = set(
            ModuleProgress.objects.filter(learner_id__in=list(plan)).values_list(
                "learner_id", "module_id"
            )
        )
        rows_before = ModuleProgress.objects.count()
        versions_before = dict(
            Learner.objects.filter(pk__in=list(plan)).values_list("pk", "version")
        )

        # Stored as the receiver stores them (``platforms.read`` of each signed body, the
        # same fields as ``intake._store``), then each handed to the queue as the receiver
        # hands it (``webhook_events_hand`` once per delivery).
        started = time.perf_counter()
        statuses = Counter()
        events = []
        now = timezone.now()
        for email, lesson in plan.values():
            message_id, stamp, signature, body = self.delivery(email, lesson)
            headers = {
                "Content-Type": "application/json",
                "webhook-id": message_id,
                "webhook-timestamp": stamp,
                "webhook-signature": signature,
            }
            platforms.verify("standard", [self.secret], body.encode(), headers, now)
            (delivery,) = platforms.read("standard", body.encode(), headers)
            events.append(
                WebhookEvent(
                    connection=self.standard,
                    body=delivery.raw,
                    headers=platforms.kept_headers(headers),
                    received_at=now,
                    event_id=delivery.event_id,
                    dedup_key=delivery.event_id,
                    topic=delivery.topic,
                    occurred_at=platforms.occurred(delivery.occurred_at, now),
                    email=delivery.email,
                    course_id=delivery.course_id,
                    lesson_id=delivery.lesson_id,
                )
            )
        stored = WebhookEvent.objects.bulk_create(events, batch_size=1000)
        statuses["stored"] = len(stored)
        for _ in stored:
            webhook_events_hand()
        store_seconds = time.perf_counter() - started
        queued = broker.llen("celery")
        received = WebhookEvent.objects.filter(status=EventStatus.RECEIVED).count()

        sessions_before = _pg_sessions(self.database_url)
        worker_log = tempfile.TemporaryFile()
        worker = subprocess.Popen(
            [
                str(Path(PYTHON).with_name("celery")),
                "-A",
                "bench.webhooks_worker",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                str(self.args.concurrency),
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env={**os.environ, **self.env},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=worker_log,
            start_new_session=True,
        )
        worker_started = time.perf_counter()
        worker_started_at = dt.datetime.now(dt.UTC)
        left = received
        try:
            deadline = worker_started + self.args.timeout
            while time.perf_counter() < deadline:
                time.sleep(0.25)
                left = WebhookEvent.objects.filter(status=EventStatus.RECEIVED).count()
                if not left:
                    break
            wall = time.perf_counter() - worker_started
            time.sleep(1)  # anything handed twice would run now
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker_cpu = _reap(worker)
            worker_log.seek(0)
            worker_err = worker_log.read()
        sessions = _pg_sessions(self.database_url) - sessions_before
        span = WebhookEvent.objects.aggregate(first=Min("processed_at"), last=Max("processed_at"))
        settled = dict(
            WebhookEvent.objects.order_by().values_list("status").annotate(n=Count("pk"))
        )
        applied = {int(k): int(v) for k, v in broker.hgetall(APPLIED_KEY).items()}
        twice = {pk: n for pk, n in applied.items() if n != 1}
        unsettled_emails = set(
            WebhookEvent.objects.filter(status=EventStatus.RECEIVED).values_list("email", flat=True)
        )
        settled_plan = {pk for pk, (email, _) in plan.items() if email not in unsettled_emails}
        never = [pk for pk in settled_plan if pk not in applied]
        pairs = {(pk, module) for pk, module in pairs if pk in settled_plan}
        rows = set(
            ModuleProgress.objects.filter(learner_id__in=list(plan)).values_list(
                "learner_id", "module_id"
            )
        )
        missing_rows = pairs - rows
        new_rows = len(pairs - existing)  # of the events settled
        rows_after = ModuleProgress.objects.count()
        versions_after = dict(
            Learner.objects.filter(pk__in=list(plan)).values_list("pk", "version")
        )
        unbumped = [pk for pk in settled_plan if versions_after[pk] <= versions_before[pk]]
        sample = self.queries_per_event()
        first, last = span["first"], span["last"]
        return {
            "events": count,
            "receiver_statuses": {str(k): v for k, v in statuses.items()},
            "store_seconds": store_seconds,
            "queued_messages": queued,
            "received_before_worker": received,
            "worker_concurrency": self.args.concurrency,
            "worker_pool": "prefork",
            "wall_seconds": wall,
            "pg_sessions_opened": sessions,
            "worker_cpu_seconds": worker_cpu,
            "worker_cpu_ms_per_event": (
                worker_cpu / (received - left) * 1000 if worker_cpu and received > left else None
            ),
            "db_reuse_max": os.environ.get("CELERY_DB_REUSE_MAX", "settings default"),
            "left_unsettled": left,
            "events_per_second": (received - left) / wall if wall else None,
            "worker_boot_seconds": (first - worker_started_at).total_seconds() if first else None,
            "first_to_last_seconds": (last - first).total_seconds() if first else None,
            "statuses_after": settled,
            "applied_events": sum(applied.values()),
            "applied_twice_or_more": len(twice),
            "never_applied": len(never),
            "progress_rows_missing": len(missing_rows),
            "progress_rows_before": rows_before,
            "progress_rows_after": rows_after,
            "progress_rows_expected_new": new_rows,
            "progress_rows_added": rows_after - rows_before,
            "learners_version_not_bumped": len(unbumped),
            "queue_after": dict(
                Counter(
                    json.loads(message)["headers"]["task"]
                    for message in broker.lrange("celery", 0, -1)
                )
            ),
            "queries_per_event": sample,
            "worker_stderr": (worker_err or b"").decode(errors="replace")[-1500:],
        }

    def queries_per_event(self, sample: int = 20) -> dict:
        """The statements events cost in the processing service (in this process, on
        learners the timed run did not touch): ``sample`` events settled one at a time,
        then ``sample`` others settled as one batch."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from learners.integrations.models import WebhookEvent
        from learners.integrations.services.processing import (
            webhook_event_process,
            webhook_events_process,
        )
        from learners.models import ModuleProgress

        done = set(
            ModuleProgress.objects.filter(source="platform").values_list("learner_id", flat=True)
        )
        free = [(pk, email) for pk, email in self.learners if pk not in done][: 2 * sample]
        lesson = next(iter(self.lessons))
        ids = []
        for _, email in free:
            message_id, stamp, signature, body = self.delivery(email, lesson)
            event = WebhookEvent.objects.create(
                connection=self.standard,
                body=body.encode(),
                headers={"webhook-id": message_id},
                event_id=message_id,
                dedup_key=message_id,
            )
            ids.append(event.pk)
        alone, batched = ids[:sample], ids[sample:]
        per_event = []
        with CaptureQueriesContext(connection) as captured:
            for event_id in alone:
                before = len(captured)
                webhook_event_process(event_id=event_id)
                per_event.append(len(captured) - before)
        statements = Counter(_statement_kind(q["sql"]) for q in captured.captured_queries)
        with CaptureQueriesContext(connection) as captured_batch:
            webhook_events_process(event_ids=batched)
        return {
            "events": len(alone),
            "median": statistics.median(per_event) if per_event else None,
            "max": max(per_event, default=None),
            "by_kind": dict(statements),
            "batch_events": len(batched),
            "batch_queries": len(captured_batch),
            "batch_by_kind": dict(
                Counter(_statement_kind(q["sql"]) for q in captured_batch.captured_queries)
            ),
        }


def _statement_kind(sql: str) -> str:
    """The statement's first word; Django records an ``executemany`` as "N times: …"."""
    times, sep, rest = sql.partition(" times: ")
    if sep and times.isdigit():
        return f"{rest.split(' ', 1)[0]} x{times} (one executemany)"
    return sql.split(" ", 1)[0]


# --- flood ------------------------------------------------------------------------------

FLOOD_BODY_BYTES = 1024 * 1024
_FLOOD_BODY = b"{" + b'"a":' + b"1" * (FLOOD_BODY_BYTES - 6) + b"}"
_FLOOD_BODY = _FLOOD_BODY[:FLOOD_BODY_BYTES]


def _flood_post(host: str, port: int, kind: tuple, address: str):
    """One unauthenticated 1 MB POST on a raw socket; the status, or what went wrong."""
    _, slug, token, length = kind
    path = f"/webhooks/{slug}/{token + '/' if token else ''}"
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        "Content-Type: application/json",
        f"X-Forwarded-For: {address}",
        "Connection: close",
    ]
    if length == "honest":
        head.append(f"Content-Length: {FLOOD_BODY_BYTES}")
        payload = _FLOOD_BODY
    elif length == "understated":
        head.append("Content-Length: 1024")
        payload = _FLOOD_BODY
    else:
        head.append("Transfer-Encoding: chunked")
        chunk = 64 * 1024
        payload = (
            b"".join(
                f"{len(_FLOOD_BODY[i : i + chunk]):x}\r\n".encode()
                + _FLOOD_BODY[i : i + chunk]
                + b"\r\n"
                for i in range(0, FLOOD_BODY_BYTES, chunk)
            )
            + b"0\r\n\r\n"
        )
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
    sent_all = True
    try:
        with socket.create_connection((host, port), timeout=30) as sock:
            try:
                sock.sendall(request)
            except (BrokenPipeError, ConnectionResetError):
                sent_all = False
            data = b""
            try:
                while b"\r\n" not in data:
                    chunk_ = sock.recv(4096)
                    if not chunk_:
                        break
                    data += chunk_
            except ConnectionResetError:
                pass
    except OSError as error:
        return f"error {type(error).__name__}"
    if not data.startswith(b"HTTP/"):
        return "no answer" + ("" if sent_all else " (reset while sending)")
    return int(data.split(b" ", 2)[1])


def _commit_probe(url: str, count: int = 200) -> dict:
    """What one durable commit costs on this database now: single-row INSERTs in autocommit
    (each flushed to the WAL before it returns, as the receiver's is) beside SELECT 1."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_commit_probe (x int)")
        timings: dict[str, list[float]] = {"select_1": [], "insert_commit": []}
        for _ in range(count):
            for label, sql in (
                ("select_1", "SELECT 1"),
                ("insert_commit", "INSERT INTO bench_commit_probe VALUES (1)"),
            ):
                started = time.perf_counter()
                conn.execute(sql)
                timings[label].append((time.perf_counter() - started) * 1000)
        conn.execute("DROP TABLE bench_commit_probe")
        setting = conn.execute("SHOW synchronous_commit").fetchone()[0]
    return {
        "synchronous_commit": setting,
        **{f"{label}_p50_ms": statistics.median(values) for label, values in timings.items()},
    }


def _reap(process: subprocess.Popen) -> float | None:
    """Wait for a stopped worker; the CPU seconds it and the processes it reaped used."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pid, _, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = 0
            return usage.ru_utime + usage.ru_stime
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return None


def _pg_sessions(url: str) -> int:
    """Sessions ever opened to the database (PostgreSQL 14+ statistics, flushed about once
    a second)."""
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(url, autocommit=True) as conn:
        time.sleep(1.1)
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", [name])
        return row.fetchone()[0]


def _database_state(name: str) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM")
        cursor.execute("CHECKPOINT")
        cursor.execute("SELECT pg_database_size(%s)", [name])
        size = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM integrations_webhookevent")
        events = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM integrations_deliveryrefusal")
        refusals = cursor.fetchone()[0]
        cursor.execute(
            "SELECT pg_total_relation_size('integrations_webhookevent'), "
            "pg_total_relation_size('integrations_deliveryrefusal')"
        )
        events_bytes, refusals_bytes = cursor.fetchone()
    return {
        "database_bytes": size,
        "webhookevent_rows": events,
        "deliveryrefusal_rows": refusals,
        "webhookevent_bytes": events_bytes,
        "deliveryrefusal_bytes": refusals_bytes,
    }


# --- servers and tools ------------------------------------------------------------------


class Gunicorn:
    def __init__(self, env: dict, args):
        self.env, self.args = env, args

    def __enter__(self):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            str(Path(PYTHON).with_name("gunicorn")),
            "pyramid_site.wsgi:application",
            "--worker-class",
            self.args.worker_class,
            "--workers",
            str(self.args.workers),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--chdir",
            str(ROOT),
            "--log-level",
            "warning",
        ]
        if self.args.worker_class == "gthread":
            command += ["--threads", str(self.args.threads)]
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            command, env=self.env, cwd=ROOT, stderr=self.log, start_new_session=True
        )
        _wait_for(f"{self.url}/healthz")
        return self

    def __exit__(self, *exc):
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


def _wrk(url: str, connections: int, duration: int, expected: int, file: Path | None = None):
    command = [
        "wrk",
        "-t",
        "1",
        "-c",
        str(connections),
        "-d",
        f"{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH / "wrk_webhooks.lua"),
        url,
        "--",
        str(expected),
        *([str(file)] if file else []),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH_WRK "))
    run = json.loads(line.removeprefix("BENCH_WRK "))
    run["rps"] = run["requests"] / (run["duration_us"] / 1e6)
    run["load"] = _load()[0]
    if file:
        file.unlink()
    return run


def _combine(runs: list[dict]) -> dict:
    keys = ("rps", "p50_us", "p90_us", "p99_us", "mean_us")
    combined = {key: statistics.median(run[key] for run in runs) for key in keys}
    for key in ("requests", "unexpected", "wrapped", "socket_errors", "timeouts"):
        combined[key] = sum(run[key] for run in runs)
    combined["runs"] = runs
    return combined


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s")


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _code_version() -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    changed = [line[3:] for line in changed if line.strip()]
    return commit + (f" + uncommitted changes in {', '.join(changed)}" if changed else "")


def _machine() -> dict:
    import platform
    from importlib.metadata import version

    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return {
        "host": socket.gethostname(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "django": version("django"),
        "gunicorn": version("gunicorn"),
        "celery": version("celery"),
        "wrk": ((wrk.stdout or wrk.stderr).strip().splitlines() or ["?"])[0],
    }


def _write(results: dict, output: Path | None) -> Path:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    path = output or BENCH / "results" / f"{today}-webhooks.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(results) + "\n")
    path.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    return path


# --- report -----------------------------------------------------------------------------


def _ms(value) -> str:
    return "?" if value is None else f"{value:.1f} ms"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"# Webhook receiver bench ({results['started']} to {results.get('finished', '?')})",
        "",
        f"`.venv/bin/python -m bench.webhooks` at commit {results['code']}; {m['host']}, "
        f"{m['cores']} cores ({m['cpu']}), shared with other engineers; Python {m['python']}, "
        f"Django {m['django']}, gunicorn {m['gunicorn']}, Celery {m['celery']}, {m['wrk']}. "
        f"Load average (1, 5, 15 min) at the start {results['load_start']}, at the end "
        f"{results.get('load_end')}.",
        "",
    ]
    intake = results.get("intake")
    if intake and "error" not in intake:
        g = intake["gunicorn"]
        lines += [
            "## Intake: signed Standard Webhooks deliveries vs `/healthz`",
            "",
            f"gunicorn `bench.settings` ({g['worker_class']}, {g['workers']} workers x "
            f"{g['threads']} threads), PostgreSQL + Redis; wrk, one thread, "
            f"{intake['wrk']['duration']} s per run, {intake['wrk']['rounds']} runs of each "
            "URL alternating (medians shown). Each POST a unique delivery signed seconds "
            "before its run; no worker running. Load average "
            f"{intake['load_before']} before, {intake['load_after']} after.",
            "",
            "| clients | /healthz p50 | /healthz req/s | intake p50 | intake p90 | intake "
            "req/s | p50 ratio (target ≤ 3) | req/s target | not 202/200 |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for clients, data in intake["by_clients"].items():
            h, i = data["healthz"], data["intake"]
            rps_target = (
                f"≥ {INTAKE_RPS_8}: {_verdict(i['rps'] >= INTAKE_RPS_8)}"
                if int(clients) == 8
                else "-"
            )
            lines.append(
                f"| {clients} | {h['p50_us'] / 1000:.2f} ms | {h['rps']:.0f} | "
                f"{i['p50_us'] / 1000:.2f} ms | {i['p90_us'] / 1000:.2f} ms | {i['rps']:.0f} | "
                f"{data['p50_ratio']:.2f} ({_verdict(data['p50_ratio'] <= INTAKE_P50_RATIO)}) | "
                f"{rps_target} | {i['unexpected'] + h['unexpected']} |"
            )
        lines += [
            "",
            f"A durable commit on this database during the run (single-row INSERT in "
            f"autocommit, synchronous_commit={intake['commit_probe']['synchronous_commit']}): "
            f"p50 {intake['commit_probe']['insert_commit_p50_ms']:.2f} ms, beside SELECT 1 "
            f"p50 {intake['commit_probe']['select_1_p50_ms']:.2f} ms; every accepted "
            "delivery waits for one such commit before its 202, `/healthz` for none. "
            f"PostgreSQL sessions opened during the timed runs: "
            f"{intake['pg_sessions_opened']}.",
            "",
            f"Answered {intake['requests_answered']:,} deliveries in the timed runs, "
            f"{intake['events_stored']:,} events stored (statuses of all stored: "
            f"{intake['statuses_stored']}); deliveries files wrapped: "
            f"{sum(d['intake']['wrapped'] for d in intake['by_clients'].values())}. "
            f"Load average (1 min) at the end of each run: "
            + ", ".join(
                f"{c} clients {[r['load'] for r in d['intake']['runs']]}"
                for c, d in intake["by_clients"].items()
            )
            + ".",
            "",
        ]
    elif intake:
        lines += ["## Intake", "", f"Error: {intake['error']}", ""]
    flood = results.get("flood")
    if flood and "error" not in flood:
        lines += [
            "## Flood: 1 MB unauthenticated POSTs",
            "",
            "20 at a time on raw sockets, `Connection: close`; five kinds in turn (to the "
            "plain URL of the signed Standard connection, with the Content-Length honest, "
            "absent (chunked) or understated as 1 KB; to the Teachable connection's URL with "
            "a wrong token, honest or chunked). Sizes after `VACUUM` and `CHECKPOINT`. "
            f"Load average {flood['load_before']} before, {flood['load_after']} after.",
            "",
            "| pass | POSTs | seconds | database growth (target < 1 MB) | refusal rows "
            "before → after | event rows before → after | statuses |",
            "|---|---|---|---|---|---|---|",
        ]
        for label, p in flood["passes"].items():
            b, a = p["before"], p["after"]
            lines.append(
                f"| {label} | {p['posts']:,} | {p['seconds']:.1f} | {p['growth_bytes']:,} bytes "
                f"({_verdict(p['growth_bytes'] < FLOOD_GROWTH_BYTES)}) | "
                f"{b['deliveryrefusal_rows']} → {a['deliveryrefusal_rows']} | "
                f"{b['webhookevent_rows']} → {a['webhookevent_rows']} | {p['statuses']} |"
            )
        lines += ["", "Statuses by kind:", ""]
        for label, p in flood["passes"].items():
            lines.append(f"- {label}:")
            for kind, statuses in p["statuses_by_kind"].items():
                lines.append(f"  - {kind}: {statuses}")
        lines.append("")
    elif flood:
        lines += ["## Flood", "", f"Error: {flood['error']}", ""]
    proc = results.get("processing")
    if proc and "error" not in proc:
        ok = proc["wall_seconds"] <= PROCESSING_SECONDS and not proc["left_unsettled"]
        correct = (
            not proc["applied_twice_or_more"]
            and not proc["never_applied"]
            and not proc["progress_rows_missing"]
            and proc["progress_rows_added"] == proc["progress_rows_expected_new"]
        )
        q = proc["queries_per_event"]
        lines += [
            "## Processing: queued completion events, a real Celery worker",
            "",
            f"{proc['events']:,} signed `lesson.completed` deliveries (one per learner, a "
            "mapped lesson each) verified, read and stored as the receiver stores them "
            "(`platforms.verify`, `platforms.read`, the fields of `intake._store`; in one "
            "`bulk_create`), then each handed to the Redis queue as the receiver hands it "
            "(`webhook_events_hand`: a task is queued unless one is already waiting; each "
            "task claims a batch of received events and, when its batch is full, hands on "
            f"another) ({proc['store_seconds']:.1f} s in one process; "
            f"{proc['queued_messages']:,} messages queued, {proc['received_before_worker']:,} "
            f"events received), then `celery worker --pool {proc['worker_pool']} "
            f"--concurrency {proc['worker_concurrency']}` started. Load average "
            f"{proc['load_before']} before, {proc['load_after']} after.",
            "",
            "| figure | value |",
            "|---|---|",
            f"| wall time, worker start → all settled (target ≤ {PROCESSING_SECONDS} s) | "
            f"{proc['wall_seconds']:.1f} s ({_verdict(ok)}) |",
            f"| events per second | {proc['events_per_second']:.0f} |",
            f"| worker CPU per event settled (its processes, not PostgreSQL's) | "
            f"{_ms(proc.get('worker_cpu_ms_per_event'))} |",
            f"| CELERY_DB_REUSE_MAX | {proc.get('db_reuse_max')} |",
            f"| PostgreSQL sessions opened meanwhile (the worker's, and the bench's polling) | "
            f"{proc.get('pg_sessions_opened', '?')} |",
            f"| worker start → first event settled | {proc['worker_boot_seconds']:.1f} s |",
            f"| first → last event settled | {proc['first_to_last_seconds']:.1f} s |",
            f"| statuses after | {proc['statuses_after']} |",
            f"| completions applied / twice or more / never | {proc['applied_events']:,} / "
            f"{proc['applied_twice_or_more']} / {proc['never_applied']} |",
            f"| ModuleProgress rows added (expected) / missing | {proc['progress_rows_added']:,} "
            f"({proc['progress_rows_expected_new']:,}) / {proc['progress_rows_missing']} |",
            f"| learners whose version was not bumped | {proc['learners_version_not_bumped']} |",
            f"| messages left in the queue | {proc['queue_after']} |",
            f"| queries per event (processing service, {q['events']} sampled) | median "
            f"{q['median']}, max {q['max']} ({q['by_kind']}) |",
            f"| queries for {q.get('batch_events', '?')} events settled as one batch | "
            f"{q.get('batch_queries', '?')} ({q.get('batch_by_kind', {})}) |",
            "",
            f"Exactly once: {_verdict(correct)}.",
            "",
        ]
    elif proc:
        lines += ["## Processing", "", f"Error: {proc['error']}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
