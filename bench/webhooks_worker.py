"""The project's Celery app for ``bench/webhooks.py``, counting each completion applied.

``celery -A bench.webhooks_worker worker``: in each worker process, every call the event
processing makes to ``module_set_done`` adds one to its learner's count in a Redis hash, so
that the bench can check that no event was applied twice (each of its learners has exactly
one event). One Redis command per event; nothing else differs from ``pyramid_site``.
"""

from __future__ import annotations

import os

from celery.signals import worker_process_init

from pyramid_site.celery import app

__all__ = ["app"]

APPLIED_KEY = "bench:hooks:applied"


@worker_process_init.connect(dispatch_uid="bench-hooks-count-applied")
def _count_applied(**kwargs):
    import redis

    from learners.integrations.services import processing

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    original = processing.module_set_done

    def counted(*, learner, **options):
        result = original(learner=learner, **options)
        client.hincrby(APPLIED_KEY, str(learner.pk), 1)
        return result

    processing.module_set_done = counted
