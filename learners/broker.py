"""Handing a Celery task to the broker: one policy for a broker that is down.

The rows a task works on are committed before it is handed, so a broker outage loses no
work: the error is logged and the caller goes on. It never fails the request that committed
the rows, nor skips the transaction's other commit hooks (Celery's ``delay_on_commit``
raises from inside the commit hook, after the commit, and Django then skips the hooks left).
What was not handed is handed again by a frequent pass where there is one (nudges' and
webhook events'), or by the instructor's retry (an invitation, an import, a recompute).
"""

from __future__ import annotations

import logging
from functools import partial

from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def task_hand(task, *args, **kwargs) -> bool:
    """Publish ``task(*args, **kwargs)`` now; False (logged) when the broker is unreachable."""
    try:
        task.delay(*args, **kwargs)
    except OperationalError as exc:
        logger.warning("Broker unreachable; %s not handed to a worker: %s", task.name, exc)
        return False
    return True


def task_hand_on_commit(task, *args, **kwargs) -> None:
    """``task_hand`` once the caller's transaction commits (at once outside one)."""
    transaction.on_commit(partial(task_hand, task, *args, **kwargs))
