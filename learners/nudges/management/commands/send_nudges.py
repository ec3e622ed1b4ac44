"""python manage.py send_nudges [--at ISO-8601] [--dry-run]"""

from __future__ import annotations

import time
from datetime import datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from learners.nudges.rules import KINDS
from learners.nudges.services.sweep import nudges_sweep


def parse_moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--at {value!r} is not an ISO-8601 date and time.") from exc
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


class Command(BaseCommand):
    help = (
        "Run a nudge sweep as of a moment (default now) and print, per kind, how many were "
        "due, sent, skipped and failed, and how many were held out (an experiment's hold-out "
        "group: recorded, never sent). Without a broker the emails are sent in-process."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--at",
            type=parse_moment,
            default=None,
            help="ISO-8601, e.g. 2026-03-09T16:30:00+00:00 (naive = UTC)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Decide only: write and send nothing."
        )
        parser.add_argument("--chunk-size", type=int, default=None)

    def handle(self, *args, at, dry_run, chunk_size, **options):
        started = time.perf_counter()
        report = nudges_sweep(now=at, chunk_size=chunk_size, dry_run=dry_run)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"Sweep as of {report.at.isoformat()}{' (dry run)' if dry_run else ''}: "
            f"{report.learners} learners in {report.chunks} chunks, {elapsed:.2f}s."
        )
        # The promised columns first (due, sent, skipped, failed); held_out and waiting after.
        self.stdout.write(
            f"{'kind':<16} {'due':>7} {'sent':>7} {'skipped':>7} {'failed':>7} {'held_out':>8}"
            f" {'waiting':>7}"
        )
        for kind in KINDS:
            c = report.kinds[kind]
            self.stdout.write(
                f"{kind:<16} {c.due:>7} {c.sent:>7} {c.skipped:>7} {c.failed:>7} {c.held_out:>8}"
                f" {c.waiting:>7}"
            )
        if not dry_run:
            self.stdout.write(
                "Of the due: sent + failed + held_out + waiting (deferred by the weekly cap or "
                "quiet hours, or still at a worker) + those skipped when sending. Skipped also "
                "counts nudges not due for a reason (opted out, address not verified)."
            )
        if not dry_run and not settings.CELERY_TASK_ALWAYS_EAGER:
            self.stdout.write(
                f"{report.handed} chunks handed to workers (sent counts grow as they work)"
                + (
                    f"; {report.not_handed} left for the next pass: broker unreachable."
                    if report.not_handed
                    else "."
                )
            )
