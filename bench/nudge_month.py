"""A month of nudges hour by hour at scale (``tests/learners/nudges/month.py``): the same
simulation and checks as ``test_month.py``, on a database of its own.

    createdb -h 127.0.0.1 -U postgres nudge_month
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nudge_month \
        .venv/bin/python bench/nudge_month.py --learners 10000 --output bench/results/X.md

Migrates the database, refuses one that already holds learners (the sweep reads every
learner), runs the month (720 hourly sweeps and frequent passes, then 8 days of frequent
passes), checks every guarantee (an AssertionError names the first breach) and prints the
figures and the time; ``--output`` writes them as markdown.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pyramid_site.settings.test")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)

    import logging

    import django

    django.setup()
    logging.disable(logging.INFO)  # one line per task otherwise
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from learners.models import Learner
    from tests.learners.nudges import month

    call_command("migrate", verbosity=0)
    if Learner.objects.exists():
        print("The database holds learners; give the month a database of its own.")
        return 2
    settings.EMAIL_BACKEND = month.BACKEND
    settings.CELERY_TASK_ALWAYS_EAGER = True

    started = time.perf_counter()
    run = month.simulate(month.plan(args.learners, seed=args.seed))
    simulated = time.perf_counter() - started
    figures = month.check(run)
    checked = time.perf_counter() - started - simulated

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    lines = [
        f"# A month of nudges, hour by hour ({datetime.now(UTC):%Y-%m-%dT%H:%M:%S+00:00})",
        "",
        "`bench/nudge_month.py` (the simulation and checks of"
        " `tests/learners/nudges/month.py`, run by the suite at 200 learners).",
        "",
        "| | |",
        "|---|---|",
        f"| database | {connection.vendor} {connection.pg_version if connection.vendor == 'postgresql' else ''} |",  # noqa: E501
        f"| machine | {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()} |",  # noqa: E501
        f"| code | {commit} |",
        f"| learners | {figures.learners:,} in {len(month.ZONES)} time zones (seed {args.seed}) |",
        f"| month | {month.START:%Y-%m-%d} + {month.DAYS} days: {figures.sweeps} hourly sweeps,"
        f" then {month.DRAIN.days} days of frequent passes ({figures.hours} hours in all) |",
        f"| budget | {month.WEEKLY_CAP} per rolling 7 days, quiet"
        f" {month.QUIET_START:%H:%M}-{month.QUIET_END:%H:%M} local;"
        f" hold-out {month.HOLDOUT_PERCENT} % on next_step and self_assessment |",
        f"| time | {simulated:.0f} s simulated ({simulated / figures.hours * 1000:.0f} ms per"
        f" simulated hour), {checked:.1f} s checking |",
        "",
        "All checks passed: no learner above the cap in any rolling 7 days, no email in the"
        " learner's quiet hours or after their opt-out, no row in two emails and every sent row"
        " in one, every row settled (sent, held out, or skipped with a reason the plan"
        " explains), no email carrying a kind to a learner held out of that kind's experiment.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| emails | {figures.emails:,} |",
        f"| ledger rows by status | {_counts(figures.rows)} |",
        f"| sent rows by kind | {_counts(figures.sent_by_kind)} |",
        f"| held-out rows by kind | {_counts(figures.held_out_by_kind)} |",
        f"| skipped rows by reason | {_counts(figures.skipped)} |",
        f"| deferred, then sent | {figures.deferred_then_sent:,}"
        f" ({figures.deferred_quiet:,} at the end of quiet hours, the rest by the cap) |",
        f"| most emails to one learner in 7 days | {figures.max_emails_in_7_days} |",
        f"| learners who reached the cap | {figures.learners_at_the_cap:,} |",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.output:
        args.output.write_text(report)
    return 0


def _counts(counter) -> str:
    return ", ".join(f"{key} {value:,}" for key, value in counter.most_common()) or "none"


if __name__ == "__main__":
    raise SystemExit(main())
