"""The experiment report at scale on PostgreSQL: N learners (``bench/seed.py``) plus a
running next_step experiment whose weekly decisions bring the ledger to about 10 rows a
learner (1,000,000 at 100,000 learners), some erased learners' anonymous observations, and
an ended experiment. Prints the report's time (median and worst of several reads), its
queries, and the ended report's time once stored.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<your-db> \\
        .venv/bin/python bench/experiment_report.py --learners 100000 --reads 7

The database named in DATABASE_URL is dropped and rebuilt: give it one of your own.
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def rebuild(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.strip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.check_call(  # noqa: S603
        [PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=os.environ
    )


def build(learners: int, seed_value: int) -> dict:
    from django.apps import apps
    from django.db import connection
    from django.utils import timezone

    from bench.seed import _copy, seed
    from learners.models import Learner
    from learners.nudges import rules
    from learners.nudges.models import ErasedObservation, Experiment, ExperimentMember, Nudge
    from learners.nudges.services.experiments import experiment_set_share, holdout_key

    started = time.perf_counter()
    seeded = seed(learners, seed_value=seed_value)
    now = timezone.now()
    begin = now - timedelta(weeks=12)
    experiment_set_share(kind=rules.NEXT_STEP, percent=0, now=begin - timedelta(weeks=13))
    ended = experiment_set_share(kind=rules.NEXT_STEP, percent=10, now=begin - timedelta(weeks=12))
    running = experiment_set_share(kind=rules.NEXT_STEP, percent=20, now=begin)
    ended.refresh_from_db()
    key = holdout_key(rules.NEXT_STEP)
    rng = random.Random(seed_value)
    ids = list(Learner.objects.order_by("pk").values_list("pk", flat=True))
    existing = Nudge.objects.count()
    target = 10 * learners - existing

    def rows():
        made = 0
        for pk in ids:
            weeks = rng.randint(4, 14) if made < target else 0
            group_held_20 = rules.held_out(key=key, learner_id=pk, percent=20)
            group_held_10 = rules.held_out(key=key, learner_id=pk, percent=10)
            for week in range(weeks):
                at = begin + timedelta(weeks=week, hours=rng.randint(0, 23))
                status = "held_out" if group_held_20 else rng.choice(["sent"] * 8 + ["skipped"])
                yield (pk, "next_step", f"bench-{week}", status, at, running.pk)
                made += 1
            if rng.random() < 0.3:
                at = ended.started_at + timedelta(days=rng.randint(0, 60))
                status = "held_out" if group_held_10 else "sent"
                yield (pk, "next_step", "bench-old", status, at, ended.pk)
                made += 1

    added = _copy(
        Nudge, ["learner", "kind", "dedup_key", "status", "created_at", "experiment"], rows()
    )
    # The rows came in by COPY, not through the ledger service: their learners' membership
    # is written as the migration that introduced it fills it from an existing ledger.
    backfill_started = time.perf_counter()
    migration = importlib.import_module("learners.nudges.migrations.0007_experiment_members")
    migration.members_from_the_ledger(apps, None)
    backfill_seconds = time.perf_counter() - backfill_started
    # Erased learners' observations: 0.5 % of the learners.
    ErasedObservation.objects.bulk_create(
        ErasedObservation(
            experiment=running,
            held_out=rng.random() < 0.2,
            decided_at=begin + timedelta(days=rng.randint(0, 80)),
            status="sent",
            progress_at=None,
            erased_at=now,
        )
        for _ in range(learners // 200)
    )
    with connection.cursor() as cursor:
        # What autovacuum does to a table this size: index-only scans need the visibility map.
        cursor.execute("VACUUM ANALYZE")
    return {
        "learners": learners,
        "ledger rows": Nudge.objects.count(),
        "experiment rows": added,
        "members": ExperimentMember.objects.count(),
        "membership backfill seconds": round(backfill_seconds, 1),
        "seed": seeded.__dict__.get("nudges"),
        "build seconds": round(time.perf_counter() - started, 1),
        "running": running.pk,
        "ended": ended.pk,
        "planned": Experiment.objects.get(pk=running.pk).planned_learners,
    }


def measure(experiment_id: int, reads: int) -> dict:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from learners.nudges.models import Experiment
    from learners.nudges.report import experiment_report
    from learners.nudges.services.experiments import experiment_report_keep

    experiment = Experiment.objects.get(pk=experiment_id)
    times, queries = [], 0
    cache.clear()  # the bench's own Redis database; the first read finds the plan's moment
    for _ in range(reads):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            report = experiment_report(experiment=experiment)
            times.append(time.perf_counter() - started)
        queries = len(captured)
    experiment_report_keep(experiment=experiment)
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        experiment_report_keep(experiment=experiment)
        kept = time.perf_counter() - started
    result = {
        "decided": report.decided,
        "state": report.state,
        "first s": round(times[0], 3),
        "median s": round(statistics.median(times[1:] or times), 3),
        "worst s": round(max(times), 3),
        "best s": round(min(times), 3),
        "queries": queries,
        "cached s": round(kept, 4),
        "cached queries": len(captured),
    }
    if experiment.ended_at is not None:
        # Stored once final (its windows have passed), read back without the ledger.
        experiment_report_keep(experiment=experiment)
        experiment.refresh_from_db()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            experiment_report_keep(experiment=experiment)
            result["stored s"] = round(time.perf_counter() - started, 4)
        result["stored queries"] = len(captured)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=7)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--keep", action="store_true", help="reuse the database as it is")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        parser.error("DATABASE_URL must name a PostgreSQL database of your own")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + secrets.token_urlsafe(40))
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    sys.path.insert(0, str(ROOT))
    if not args.keep:
        rebuild(url)
    import django

    django.setup()
    from learners.nudges.models import Experiment

    if args.keep:
        built = {"kept": True}
        running = Experiment.objects.get(kind="next_step", ended_at__isnull=True).pk
        ended = (
            Experiment.objects.filter(kind="next_step", ended_at__isnull=False)
            .order_by("-ended_at")[0]
            .pk
        )
    else:
        built = build(args.learners, args.seed)
        running, ended = built["running"], built["ended"]
    print("built:", built, flush=True)
    print("load average:", Path("/proc/loadavg").read_text().strip(), flush=True)
    print("running experiment:", measure(running, args.reads), flush=True)
    print("ended experiment:", measure(ended, args.reads), flush=True)
    print("load average:", Path("/proc/loadavg").read_text().strip(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
