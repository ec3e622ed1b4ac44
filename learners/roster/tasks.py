"""The roster's Celery task: a large import run by a worker (takes the import's id, calls
the roster's job runner, owns only Celery's delivery options). Discovered by the Celery app
(``pyramid_site/celery.py``), as the roster is a package of the learners app, not an app."""

from __future__ import annotations

from celery import shared_task


# The name predates the move from the onboarding app: tasks queued before a deploy still run.
@shared_task(name="onboarding.import_roster", acks_late=True)
def roster_import_task(roster_import_id: int) -> str:
    from .jobs import roster_import_job_run

    return roster_import_job_run(roster_import_id=roster_import_id)
