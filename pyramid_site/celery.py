"""The Celery app, configured from Django settings (``CELERY_`` namespace).

Without ``REDIS_URL`` the settings make every task run in-process (``task_always_eager``),
which is the embedded default.
"""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pyramid_site.settings.local")

app = Celery("pyramid_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# A package's tasks that is not an app of its own (the roster import's, beside its jobs).
app.autodiscover_tasks(["learners.roster"])


@task_prerun.connect(dispatch_uid="pyramid-db-before-task")
@task_postrun.connect(dispatch_uid="pyramid-db-after-task")
def close_old_connections(sender=None, **kwargs) -> None:
    """Around each task, what Django does around each request: drop a database connection
    that has failed or outlived ``CONN_MAX_AGE``, keep the others (``CELERY_DB_REUSE_MAX``
    keeps Celery from closing every one). Not for a task run eagerly, inside the caller's
    transaction."""
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections as django_close_old_connections

    django_close_old_connections()
