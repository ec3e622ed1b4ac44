"""Measure a nudge sweep at scale: PostgreSQL, a Redis broker, Celery workers, aiosmtpd.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_nudges \\
    REDIS_URL=redis://127.0.0.1:6379/3 \\
    .venv/bin/python tests/learners/nudges/bench_sweep.py --learners 100000 --workers 2

EMPTIES the learners of that database and flushes that Redis database first. Not collected
by pytest (a script, not a test). Prints: seconds deciding (the sweep, no worker running),
Celery messages published, emails per second sent by the workers to a local aiosmtpd sink,
peak memory of the sweep (RSS and Python heap) and of the workers.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import socket
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pyramid_site.settings.local")
os.environ["DJANGO_DEBUG"] = "false"  # no query log growing in memory

import django  # noqa: E402

django.setup()

from allauth.account.models import EmailAddress  # noqa: E402
from celery.signals import before_task_publish  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count, Max, Min  # noqa: E402

from curriculum.models import Track  # noqa: E402
from learners.models import Learner, Nudge, User  # noqa: E402
from learners.nudges.services import nudges_sweep  # noqa: E402

AT = datetime(2026, 6, 10, 9, 30, tzinfo=UTC)  # 09:30 in UTC and Abidjan, not elsewhere
ZONES = (
    ["UTC"] * 4
    + ["Africa/Abidjan"]
    + [
        "America/Los_Angeles",
        "Pacific/Auckland",
        "Asia/Kolkata",
        "Europe/Paris",
        "America/New_York",
    ]
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(n: int) -> None:
    """``n`` learners by bulk insert: 10% without a self-assessment (signed up 3 days ago),
    the rest engineers quiet for 10 days (20% of them active yesterday); 5% opted out,
    5% unverified; time zones mixed so that about half are at 09:xx at ``AT``."""
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE learners_user RESTART IDENTITY CASCADE")
    rng = random.Random(6)
    engineer = Track.objects.get(slug="engineer")
    batch = 10_000
    for start in range(0, n, batch):
        size = min(batch, n - start)
        users = User.objects.bulk_create(
            [User(email=f"bench{start + i}@example.com", password="!") for i in range(size)]  # noqa: S106
        )
        learners = []
        for user in users:
            assessed = rng.random() >= 0.10
            active = rng.random() < 0.20
            learners.append(
                Learner(
                    user=user,
                    timezone=rng.choice(ZONES),
                    nudges_enabled=rng.random() >= 0.05,
                    created_at=AT - (timedelta(days=30) if assessed else timedelta(days=3)),
                    last_activity_at=AT - timedelta(days=1 if active else 10),
                    **(
                        {
                            "track": engineer,
                            "assessment_submitted_at": AT - timedelta(days=29),
                            "annual_compensation": rng.choice([90_000, 160_000, 260_000]),
                            "can_explain_concepts": True,
                            "can_implement_from_scratch": rng.random() < 0.5,
                            "deployed_at_scale": False,
                            "seen_as": "integrator",
                            "leads_initiatives": False,
                        }
                        if assessed
                        else {}
                    ),
                )
            )
        Learner.objects.bulk_create(learners)
        EmailAddress.objects.bulk_create(
            [
                EmailAddress(user=u, email=u.email, verified=rng.random() >= 0.05, primary=True)
                for u in users
            ]
        )


def vm_hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--skip-build", action="store_true")
    args = parser.parse_args()
    if settings.CELERY_TASK_ALWAYS_EAGER or connection.vendor != "postgresql":
        raise SystemExit("set DATABASE_URL (PostgreSQL) and REDIS_URL")
    import redis

    broker = redis.Redis.from_url(settings.REDIS_URL)
    broker.flushdb()

    if not args.skip_build:
        started = time.perf_counter()
        build(args.learners)
        print(f"built {args.learners:,} learners in {time.perf_counter() - started:.1f}s")
    Nudge.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    # Python heap peak of deciding, measured on a dry run (tracemalloc slows it down).
    tracemalloc.start()
    nudges_sweep(now=AT, dry_run=True)
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    published = []
    before_task_publish.connect(lambda sender=None, **kw: published.append(sender), weak=False)
    rss_before = rss_mb()
    counter = {"n": 0}

    def count(execute, sql, params, many, context):
        counter["n"] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        started = time.perf_counter()
        report = nudges_sweep(now=AT)
        deciding = time.perf_counter() - started
    rss_after = rss_mb()
    due = {kind: c.due for kind, c in report.kinds.items()}
    skipped = {kind: c.skipped for kind, c in report.kinds.items()}
    print(
        f"sweep: {report.learners:,} learners, {report.chunks} chunks, {deciding:.2f}s deciding, "
        f"{counter['n']} queries, {len(published)} celery messages published "
        f"(queue length {broker.llen('celery')}), due {due}, skipped {skipped}"
    )
    print(
        f"sweep memory: peak RSS {rss_after:.0f} MB (was {rss_before:.0f} MB before the sweep), "
        f"Python heap peak {heap_peak / 2**20:.1f} MB"
    )

    port = free_port()
    sink = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ],
    )
    env = {**os.environ, "EMAIL_URL": f"smtp://127.0.0.1:{port}", "DJANGO_DEBUG": "false"}
    worker = subprocess.Popen(  # noqa: S603
        [
            str(Path(sys.executable).with_name("celery")),
            "-A",
            "pyramid_site",
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
    )
    total = sum(due.values())
    started = time.perf_counter()
    worker_peak = 0.0
    try:
        while time.perf_counter() - started < args.timeout:
            open_rows = Nudge.objects.filter(status__in=["pending", "sending"]).count()
            worker_peak = max(
                worker_peak, sum(vm_hwm_mb(pid) for pid in [worker.pid, *children(worker.pid)])
            )
            if open_rows == 0:
                break
            time.sleep(1)
        wall = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        sink.terminate()
        sink.wait(timeout=10)
    statuses = dict(Nudge.objects.order_by().values_list("status").annotate(n=Count("pk")))
    window = Nudge.objects.filter(status="sent").aggregate(
        first=Min("sending_started_at"), last=Max("sent_at")
    )
    sent = statuses.get("sent", 0)
    seconds = (window["last"] - window["first"]).total_seconds() if sent else 0
    print(
        f"sending: {sent:,} of {total:,} sent ({statuses}), {args.workers} worker processes, "
        f"{seconds:.1f}s from first claim to last sent = {sent / seconds if seconds else 0:.0f} "
        f"emails/s ({wall:.1f}s wall including worker start); "
        f"worker peak RSS (sum of processes) {worker_peak:.0f} MB"
    )


if __name__ == "__main__":
    main()
