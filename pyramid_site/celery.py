"""The Celery app, configured from Django settings (``CELERY_`` namespace).

Without ``REDIS_URL`` the settings make every task run in-process (``task_always_eager``),
which is the embedded default.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pyramid_site.settings.local")

app = Celery("pyramid_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# A package's tasks that is not an app of its own (the roster import's, beside its jobs).
app.autodiscover_tasks(["learners.roster"])
