"""Roster imports too large to run within a web request: a worker runs them, all or nothing.

10,000 rows take about 10 s on PostgreSQL (bench/results), too close to a proxy's or
gunicorn's timeout, so the admin hands any file of more than ``BACKGROUND_ROWS`` rows to a
Celery task and shows a page that follows it. The import is one transaction: its progress is
kept in the cache (the only place another process can see it before the commit) and its
outcome in the ``RosterImport`` row once it ends.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from ..broker import task_hand_on_commit
from ..models import User
from ..onboarding.models import RosterImport, RosterImportStatus
from .importer import ImportReport, roster_import

BACKGROUND_ROWS = 1000  # more rows than this: imported by a worker
MAX_ERRORS_KEPT = 200
PROGRESS_TTL = 6 * 3600
# Where each step's bar starts and ends, in % of the whole import (measured shares of 10k rows).
STEPS = {"checking": (0, 35), "writing": (35, 60), "recomputing levels": (60, 100)}


def progress_key(roster_import_id: int) -> str:
    return f"roster-import:{roster_import_id}:progress"


def roster_import_job_start(*, content: str, rows: int, invite: bool, created_by: User) -> int:
    """Record a confirmed import and hand it to a worker after the commit; returns its id."""
    from .tasks import roster_import_task

    job = RosterImport.objects.create(
        content=content, rows=rows, invite=invite, created_by=created_by
    )
    task_hand_on_commit(roster_import_task, job.pk)
    return job.pk


def roster_import_job_progress(roster_import_id: int) -> dict | None:
    """``{"step": ..., "percent": ...}`` of a running import, or None when not known."""
    return cache.get(progress_key(roster_import_id))


def roster_import_job_run(*, roster_import_id: int) -> str:
    """Run a queued import once (a redelivered task finds it claimed); returns its status."""
    claimed = RosterImport.objects.filter(
        pk=roster_import_id, status=RosterImportStatus.QUEUED
    ).update(status=RosterImportStatus.RUNNING, started_at=timezone.now())
    job = RosterImport.objects.select_related("created_by").get(pk=roster_import_id)
    if not claimed:
        return job.status

    def progress(step: str, done: int, total: int) -> None:
        start, end = STEPS[step]
        percent = start + (end - start) * (done / total if total else 1)
        cache.set(progress_key(job.pk), {"step": step, "percent": round(percent)}, PROGRESS_TTL)

    progress("checking", 0, 1)
    try:
        report = roster_import(
            job.content,
            recorded_by=job.created_by,
            invite=job.invite,
            progress=progress,
        )
    except Exception as error:
        # The import's transaction was rolled back: nothing of the file was written.
        _finish(job, RosterImportStatus.FAILED, {"failure": str(error)[:500]})
        raise
    status = RosterImportStatus.DONE if report.ok else RosterImportStatus.FAILED
    _finish(job, status, report_summary(report))
    return status


def report_summary(report: ImportReport) -> dict:
    return {
        "rows": report.rows,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "levels_changed": report.levels_changed,
        "invited": report.invited,
        "cohorts_created": report.cohorts_created,
        "error_count": len(report.errors),
        "errors": [
            {"line": error.line, "column": error.column, "message": error.message}
            for error in report.errors[:MAX_ERRORS_KEPT]
        ],
    }


def _finish(job: RosterImport, status: str, report: dict) -> None:
    with transaction.atomic():
        RosterImport.objects.filter(pk=job.pk).update(
            status=status, report=report, finished_at=timezone.now(), content=""
        )
    cache.delete(progress_key(job.pk))
