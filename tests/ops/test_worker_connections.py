"""Workers keep their database connection from task to task, as web processes do between
requests (pyramid_site/celery.py, ``CELERY_DB_REUSE_MAX``); bench/results/2026-12-07-webhooks.md
measured a new PostgreSQL session per task without it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from learners.models import Cohort
from pyramid_site.celery import app, close_old_connections


def test_celery_reads_the_reuse_setting_so_it_does_not_close_the_connection_after_each_task(
    settings,
):
    assert settings.CELERY_DB_REUSE_MAX > 1
    assert DjangoWorkerFixup(app).db_reuse_max == settings.CELERY_DB_REUSE_MAX


@pytest.mark.django_db
def test_a_task_run_eagerly_leaves_the_callers_transaction_and_connection_alone():
    Cohort.objects.create(name="Kept")
    raw = connection.connection
    eager = SimpleNamespace(request=SimpleNamespace(is_eager=True))
    close_old_connections(sender=eager)
    assert connection.connection is raw
    assert connection.in_atomic_block
    assert Cohort.objects.filter(name="Kept").exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_around_a_worker_task_a_failed_connection_is_dropped():
    if connection.vendor != "postgresql":
        pytest.skip("Django never closes an in-memory SQLite database")
    Cohort.objects.count()
    assert connection.connection is not None
    connection.errors_occurred = True
    connection.connection.close()  # as when the database went away mid-task
    worker_task = SimpleNamespace(request=SimpleNamespace(is_eager=False))
    close_old_connections(sender=worker_task)
    assert connection.connection is None
    assert Cohort.objects.count() == 0  # and the next task connects again
