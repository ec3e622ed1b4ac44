"""Concurrency with nothing lost (issue 7, item 2): 50 signed-in clients ticking and
unticking keys and modules against gunicorn on PostgreSQL; zero server errors, and the
database agrees exactly with the last successful request of each learner.

Each client makes ``RELIABILITY_REQUESTS`` requests (30) however long they take, so a busy
machine makes the test slower, never red: it asserts invariants only. Speed is the
bench's: ``bench/soak.py`` runs the 60-second version and records the figures.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

from curriculum.models import Key
from curriculum.selectors import curriculum_rules
from learners.models import Learner, LevelChange
from learners.services import key_set_done

from .load import (
    ClientPlan,
    Gunicorn,
    Outcome,
    State,
    check_nothing_lost,
    database_url,
    figures,
    learners_signed_in,
    plans_for,
    practice_items,
    run_load,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

CLIENTS = 50
LEARNERS = 40  # ten of them in two browsers at once, their items split between the two
REQUESTS = int(os.environ.get("RELIABILITY_REQUESTS", "30"))  # per client
HANG_SECONDS = 120.0


def test_fifty_clients_ticking_and_unticking_lose_nothing(postgres):
    items = practice_items(curriculum_rules(fresh=True), levels=(1,))
    learners = learners_signed_in(LEARNERS, prefix="concurrent", items=items, done_share=0.75)
    plans = plans_for(learners, items, CLIENTS)
    start = State.read(pk for pk, _ in learners)

    with Gunicorn({"DATABASE_URL": database_url(postgres), "REDIS_URL": ""}) as server:
        # The timeout guards against a hang only: on a busy machine a request may queue
        # behind the 49 others for many seconds, which is the bench's business.
        outcomes = run_load(server.url, plans, requests=REQUESTS, timeout=HANG_SECONDS)
        log = server.log()

    measured = figures(outcomes)
    print(f"\nconcurrency: {measured.line()}")
    assert measured.server_errors == 0, log
    assert measured.no_answer == 0, [o.error for o in outcomes if not o.status][:5]
    assert set(measured.statuses) <= {200, 302}, measured.statuses
    # Every client made all its requests, each answered.
    assert Counter(o.client for o in outcomes) == dict.fromkeys(range(CLIENTS), REQUESTS)

    verdict = check_nothing_lost(plans, outcomes, start=start)
    print(f"concurrency: {verdict.line()}")
    assert verdict.problems == []
    assert verdict.uncertain_items == 0
    # The run moved levels both ways, so the history check had something to check (the
    # requests are the same on any machine; a loose floor for the interleavings).
    assert verdict.level_changes >= LEARNERS // 4
    assert verdict.histories_replayed == LEARNERS - (CLIENTS - LEARNERS)


@pytest.mark.django_db
def test_the_check_finds_a_lost_completion_and_a_history_row_without_its_level():
    items = practice_items(curriculum_rules(fresh=True), levels=(1,))
    [(learner_id, sessions)] = learners_signed_in(1, prefix="check")
    plans = [ClientPlan(learner_id, sessions[0], tuple(items))]
    start = State.read([learner_id])
    told_done = [Outcome(0, learner_id, items[0], True, 302, "", 1.0, 0.01)]

    lost = check_nothing_lost(plans, told_done, start=start).problems
    assert lost == [
        f"learner {learner_id}: key {items[0].name} is not done but the last successful "
        "request said done"
    ]

    learner = Learner.objects.get(pk=learner_id)
    key_set_done(learner=learner, key=Key.objects.get(pk=items[0].pk), done=True)
    assert check_nothing_lost(plans, told_done, start=start).problems == []

    LevelChange.objects.create(learner=learner, from_level=1, to_level=2)
    problems = check_nothing_lost(plans, told_done, start=start).problems
    assert f"learner {learner_id}: history ends at 2, the learner is at 1" in problems
    assert f"learner {learner_id}: history [(1, 2)], replaying the requests gives []" in problems
