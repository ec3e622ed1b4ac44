"""Soak (issue 7, item 2 at full length): 50 signed-in clients ticking and unticking keys and
modules against gunicorn on PostgreSQL for 60 seconds, then the check that nothing was lost.

    .venv/bin/python bench/soak.py [--seconds 60] [--clients 50] [--learners 40]

The same harness as ``tests/reliability/test_concurrency.py`` (``tests/reliability/load.py``),
with production settings (``bench.settings``: DEBUG off, connection reuse, the Redis cache)
on a database of its own: ``SOAK_DATABASE_URL`` (default
postgres://postgres@127.0.0.1:5432/h_load; migrated, and the learners it made last time
deleted first) and ``SOAK_REDIS_URL`` (default redis://127.0.0.1:6379/9). Prints the
figures and writes them to ``bench/results/<date>-soak.md`` (raw ``.json`` beside it).
Exits 1 when a request got a server error or the database disagrees with the clients.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import sys
from dataclasses import asdict
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PREFIX = "soak"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--learners", type=int, default=40, help="the extra clients are second browsers"
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn gthread workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--levels", default="1,2", help="levels whose keys and modules are ticked")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)

    env = {
        "DATABASE_URL": os.environ.get(
            "SOAK_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/h_load"
        ),
        "REDIS_URL": os.environ.get("SOAK_REDIS_URL", "redis://127.0.0.1:6379/9"),
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    os.environ.update(env)  # this process signs the learners in: same settings and secret
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from curriculum.selectors import curriculum_rules
    from learners.models import User
    from tests.reliability.load import (
        Gunicorn,
        State,
        check_nothing_lost,
        figures,
        learners_signed_in,
        plans_for,
        practice_items,
        run_load,
    )

    call_command("migrate", verbosity=0)
    User.objects.filter(email__startswith=f"{PREFIX}-").delete()
    curriculum = curriculum_rules(fresh=True)  # and refresh the shared cache
    levels = tuple(int(level) for level in args.levels.split(","))
    items = practice_items(curriculum, levels=levels)
    learners = learners_signed_in(args.learners, prefix=f"{PREFIX}-", items=items, done_share=0.75)
    plans = plans_for(learners, items, args.clients)
    start = State.read(pk for pk, _ in learners)

    print(
        f"soak: {args.clients} clients ({args.learners} learners), {len(items)} items each, "
        f"{args.seconds:.0f}s, gunicorn {args.workers} workers x {args.threads} threads",
        flush=True,
    )
    with Gunicorn(
        env, workers=args.workers, threads=args.threads, settings=env["DJANGO_SETTINGS_MODULE"]
    ) as server:
        outcomes = run_load(server.url, plans, seconds=args.seconds)
        log = server.log()
    measured = figures(outcomes)
    verdict = check_nothing_lost(plans, outcomes, start=start)
    print(f"load: {measured.line()}")
    print(f"nothing lost: {verdict.line()}")
    for problem in verdict.problems[:20]:
        print(f"  {problem}")
    if measured.server_errors:
        print(log)

    results = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "figures": asdict(measured),
        "verdict": asdict(verdict),
    }
    path = (
        args.output or BENCH / "results" / f"{dt.datetime.now(dt.UTC).date().isoformat()}-soak.md"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_render(results, measured, verdict) + "\n")
    path.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"written: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    ok = not measured.server_errors and not measured.no_answer and not verdict.problems
    return 0 if ok else 1


def _render(results: dict, measured, verdict) -> str:
    args = results["args"]
    ok = not measured.server_errors and not measured.no_answer and not verdict.problems
    return "\n".join(
        [
            f"# Soak: {args['clients']} clients, {float(args['seconds']):.0f} s "
            f"({results['at']}, {results['host']})",
            "",
            f"`bench/soak.py`: gunicorn ({args['workers']} gthread workers x {args['threads']} "
            f"threads, `bench.settings`, Redis cache) on PostgreSQL; {args['clients']} "
            f"clients signed in as {args['learners']} learners (the extra clients are a "
            f"learner's second browser, their items split), ticking and unticking the keys "
            f"and modules of levels {args['levels']}, one request in ten a GET of the "
            f"progress page. {results['cpus']} CPUs; load average at the end "
            f"{', '.join(f'{x:.1f}' for x in results['load_average'])} (the clients run on "
            f"the same machine).",
            "",
            "| requests | POSTs | page GETs | req/s | 5xx | no answer | p50 ms | p95 ms | "
            "p99 ms | max ms |",
            "|---|---|---|---|---|---|---|---|---|---|",
            f"| {measured.requests:,} | {measured.posts:,} | {measured.pages:,} | "
            f"{measured.per_second:.0f} | {measured.server_errors} | {measured.no_answer} | "
            f"{measured.p50_ms:.0f} | {measured.p95_ms:.0f} | {measured.p99_ms:.0f} | "
            f"{measured.max_ms:.0f} |",
            "",
            f"Statuses: {measured.statuses}.",
            "",
            f"Nothing lost: **{'ok' if ok else 'FAILED'}** — {verdict.line()}.",
            "",
            "Checked: every key and module is in the state the learner's last successful "
            "request asked for; each learner's level is what the placement rule gives for "
            "that state; the level history is one unbroken chain (from = previous to, no "
            "repeats, times in order) ending at that level; for learners with one client, "
            "the history equals a replay of their requests through the placement rule.",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
