"""What a tick writes (``key_set_done``, ``module_set_done``) and in how many queries: the
rules that hold whoever writes (the learner, an instructor, the API, a platform)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from curriculum.models import Key, Module
from learners.models import CompletionSource, KeyCompletion, Learner, ModuleProgress
from learners.services import key_set_done, learner_recompute_level, module_set_done
from tests.factories import LearnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def learner(curriculum) -> Learner:
    learner = LearnerFactory(engineer=True, annual_compensation=160_000)
    learner_recompute_level(learner=learner)
    return Learner.objects.select_related("track").get(pk=learner.pk)


def _hand_key() -> Key:
    return Key.objects.filter(track__slug="engineer", level__number=2, modules__isnull=True)[0]


def _version(learner: Learner) -> int:
    return Learner.objects.values_list("version", flat=True).get(pk=learner.pk)


def test_ticking_a_ticked_key_again_keeps_its_first_time_and_source(learner):
    key = _hand_key()
    key_set_done(learner=learner, key=key, done=True, source=CompletionSource.API, via="crm")
    first = KeyCompletion.objects.get(learner=learner, key=key)

    key_set_done(learner=learner, key=key, done=True)

    again = KeyCompletion.objects.get(learner=learner, key=key)
    assert (again.pk, again.completed_at, again.source, again.via) == (
        first.pk,
        first.completed_at,
        CompletionSource.API,
        "crm",
    )


def test_an_earlier_report_of_a_completion_wins_a_later_one_does_not(learner):
    module = Module.objects.get(number=4)
    now = timezone.now()
    platform = {"source": CompletionSource.PLATFORM, "via": "Thinkific"}
    module_set_done(learner=learner, module=module, done=True, completed_at=now, **platform)

    module_set_done(
        learner=learner, module=module, done=True, completed_at=now + timedelta(hours=1), **platform
    )
    assert ModuleProgress.objects.get(learner=learner, module=module).completed_at == now

    earlier = now - timedelta(hours=1)
    module_set_done(learner=learner, module=module, done=True, completed_at=earlier, **platform)
    assert ModuleProgress.objects.get(learner=learner, module=module).completed_at == earlier


def test_a_learner_cannot_untick_what_a_platform_completed_and_nothing_changes(learner):
    module = Module.objects.get(number=4)
    module_set_done(
        learner=learner,
        module=module,
        done=True,
        source=CompletionSource.PLATFORM,
        via="Thinkific",
    )
    version = _version(learner)

    with pytest.raises(ValidationError, match="completed on Thinkific; only an instructor"):
        module_set_done(learner=learner, module=module, done=False)

    assert ModuleProgress.objects.filter(learner=learner, module=module).exists()
    assert _version(learner) == version  # not even the learner's activity was written


def test_an_instructor_unticks_what_a_platform_completed(learner):
    module = Module.objects.get(number=4)
    module_set_done(learner=learner, module=module, done=True, source=CompletionSource.PLATFORM)

    module_set_done(learner=learner, module=module, done=False, source=CompletionSource.INSTRUCTOR)

    assert not ModuleProgress.objects.filter(learner=learner, module=module).exists()


def test_unticking_what_is_not_done_changes_nothing_but_the_activity(learner):
    key = _hand_key()
    version = _version(learner)

    key_set_done(learner=learner, key=key, done=False)

    assert not KeyCompletion.objects.filter(learner=learner).exists()
    assert _version(learner) == version + 1


def test_a_module_linked_key_is_refused_with_the_rules_or_without(learner, curriculum):
    linked = Key.objects.get(code="engineer-2-06")
    assert linked.modules.exists()

    for rules in (curriculum, None):
        with pytest.raises(ValidationError, match="done by completing its modules"):
            key_set_done(learner=learner, key=linked, done=True, curriculum=rules)
    assert not KeyCompletion.objects.filter(learner=learner).exists()


def test_a_key_the_rules_do_not_know_is_asked_of_the_database(learner, curriculum):
    linked = Key.objects.get(code="engineer-2-06")
    # Rules without the key (as if it were added after they were read).
    without = dataclasses.replace(
        curriculum,
        tracks={
            slug: dataclasses.replace(
                track,
                keys={
                    level: tuple(rule for rule in rules if rule.id != linked.pk)
                    for level, rules in track.keys.items()
                },
            )
            for slug, track in curriculum.tracks.items()
        },
    )

    with pytest.raises(ValidationError, match="done by completing its modules"):
        key_set_done(learner=learner, key=linked, done=True, curriculum=without)


# The write part of a tick with the caller's rules (the progress page's views pass theirs),
# a tick that moves no level: the transaction (a savepoint here, inside the test's own), the
# learner's locked row, the completion written (an INSERT that leaves one already there, or
# a DELETE that spares a platform's), the learner's activity and version, their progress
# for the recompute (modules and keys in one UNION). Whether modules do the key is read from
# the rules. Exact, so that a query coming back fails the test.
TICK_WRITE_QUERIES = 6


@pytest.mark.parametrize("done", [True, False])
def test_a_key_tick_writes_in_a_fixed_few_queries(learner, curriculum, done):
    key = _hand_key()
    if not done:
        key_set_done(learner=learner, key=key, done=True)

    with CaptureQueriesContext(connection) as queries:
        result = key_set_done(learner=learner, key=key, done=done, curriculum=curriculum)

    assert result.change is None  # no level moved
    assert len(queries) == TICK_WRITE_QUERIES, [q["sql"] for q in queries]
    assert KeyCompletion.objects.filter(learner=learner, key=key).exists() is done


@pytest.mark.parametrize("done", [True, False])
def test_a_module_tick_writes_in_a_fixed_few_queries(learner, curriculum, done):
    module = Module.objects.get(number=6)
    if not done:
        module_set_done(learner=learner, module=module, done=True)

    with CaptureQueriesContext(connection) as queries:
        result = module_set_done(learner=learner, module=module, done=done, curriculum=curriculum)

    assert result.change is None
    assert len(queries) == TICK_WRITE_QUERIES, [q["sql"] for q in queries]
    assert ModuleProgress.objects.filter(learner=learner, module=module).exists() is done


def test_the_learners_progress_is_read_in_one_query(learner):
    from learners.selectors import learner_progress

    for number in (1, 4, 9):
        module_set_done(learner=learner, module=Module.objects.get(number=number), done=True)
    keys = list(Key.objects.filter(track__slug="engineer", modules__isnull=True)[:3])
    for key in keys:
        key_set_done(learner=learner, key=key, done=True)

    with CaptureQueriesContext(connection) as queries:
        progress = learner_progress(learner)

    assert len(queries) == 1
    assert progress.completed_modules == {1, 4, 9}
    assert progress.completed_keys == {key.code for key in keys}
