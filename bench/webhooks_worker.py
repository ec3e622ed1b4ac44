"""The project's Celery app for ``bench/webhooks.py``, counting each completion applied.

``celery -A bench.webhooks_worker worker``: in each worker process, every completion the
event processing writes (a batch's ``_completions_write``, or ``module_set_done`` when a
batch falls back to one at a time) adds one to its learner's count in a Redis hash, once
the write has returned, so that the bench can check that no event was applied twice (each
of its learners has exactly one event). One Redis command per batch; nothing else differs
from ``pyramid_site``.
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
    one, batch = processing.module_set_done, processing._completions_write

    def counted_one(*, learner, **options):
        result = one(learner=learner, **options)
        client.hincrby(APPLIED_KEY, str(learner.pk), 1)
        return result

    def counted_batch(completions):
        batch(completions)
        pipe = client.pipeline(transaction=False)
        for completion in completions:
            pipe.hincrby(APPLIED_KEY, str(completion.learner_id), 1)
        pipe.execute()

    processing.module_set_done = counted_one
    processing._completions_write = counted_batch
