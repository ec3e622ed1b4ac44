"""The project's Celery app, plus a count of the SQL queries each task runs.

``celery -A bench.celery_worker worker`` (started by ``bench/measure.py sweep``): after each
task the worker adds its queries and tasks to Redis counters that the bench reads.
"""

from __future__ import annotations

import os

from celery.signals import task_postrun, task_prerun

from pyramid_site.celery import app

__all__ = ["app"]

QUERIES_KEY = "bench:worker:queries"
TASKS_KEY = "bench:worker:tasks"
_running: dict[str, tuple] = {}


class _Counter:
    def __init__(self) -> None:
        self.queries = 0

    def __call__(self, execute, sql, params, many, context):
        self.queries += 1
        return execute(sql, params, many, context)


@task_prerun.connect(dispatch_uid="bench-count-start")
def _start(task_id=None, **kwargs):
    from django.db import connection

    counter = _Counter()
    wrapper = connection.execute_wrapper(counter)
    wrapper.__enter__()
    _running[task_id] = (counter, wrapper)


@task_postrun.connect(dispatch_uid="bench-count-stop")
def _stop(task_id=None, **kwargs):
    import redis

    counter, wrapper = _running.pop(task_id, (None, None))
    if counter is None:
        return
    wrapper.__exit__(None, None, None)
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.incrby(QUERIES_KEY, counter.queries)
    client.incrby(TASKS_KEY, 1)
