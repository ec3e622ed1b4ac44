"""One policy for a broker that is down at an after-commit hand-off (``learners.broker``)."""

from __future__ import annotations

import logging

from django.db import transaction

from learners.broker import task_hand_on_commit
from learners.receivers import recompute_on_placement_rules_changed
from learners.tasks import recompute_learners_task
from tests.learners.nudges.conftest import broker, free_port


def test_a_broker_down_after_the_commit_fails_nothing_and_runs_the_other_hooks(
    db, django_capture_on_commit_callbacks, caplog
):
    """Celery's ``delay_on_commit`` raised from the commit hook (a 500 after the commit) and
    Django skipped the hooks left; the hand-off logs the outage and the commit goes on."""
    ran = []
    closed = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with (
        caplog.at_level(logging.WARNING, logger="learners.broker"),
        broker(closed),
        django_capture_on_commit_callbacks(execute=True),
    ):
        recompute_on_placement_rules_changed(None, everyone=True)  # a curriculum edit
        task_hand_on_commit(recompute_learners_task, learner_ids=[])
        transaction.on_commit(lambda: ran.append("the next hook"))
    assert ran == ["the next hook"]
    outages = [r for r in caplog.records if r.getMessage().startswith("Broker unreachable")]
    assert len(outages) == 2
