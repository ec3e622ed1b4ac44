from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connections
from pytest_django.plugin import blocking_manager_key

from pyramid_site.logs import request_id

# Whether a transactional test ran in this process since its data was last restored.
_flushed_since_restore = False


def _is_transactional(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("django_db")
    fixtures = getattr(item, "fixturenames", ())
    return bool(
        marker and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences"))
    ) or bool({"transactional_db", "live_server"} & set(fixtures))


def _uses_db(item: pytest.Item) -> bool:
    return item.get_closest_marker("django_db") is not None or "db" in getattr(
        item, "fixturenames", ()
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    """A transactional test ends by flushing the database: the migrations' data (the
    curriculum, the Instructors group, content types) is gone until the next test with
    ``serialized_rollback`` puts it back. Django and pytest-django avoid the gap by running
    every such test after the others, but xdist's worksteal hands a worker that is done
    tests stolen from another, so here a plain database test may follow a flush: the data
    is put back first, as ``serialized_rollback`` does."""
    global _flushed_since_restore
    if _flushed_since_restore and _uses_db(item) and not _is_transactional(item):
        with item.config.stash[blocking_manager_key].unblock():
            for connection in connections.all():
                contents = getattr(connection, "_test_serialized_contents", None)
                if contents:
                    connection.creation.deserialize_db_from_string(contents)
        _flushed_since_restore = False
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    global _flushed_since_restore
    try:
        return (yield)
    finally:
        if _is_transactional(item):
            _flushed_since_restore = True


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The curriculum rules are cached; a test's rolled-back edits must not leak."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _outside_any_request():
    """Every test starts outside a request. The request id is cleared when a response is
    closed; one nobody closes (schemathesis fetches the API schema through the WSGI handler
    when tests/learners/integrations/test_api_schema.py is imported) leaves it set in the
    thread, and every later test of that worker would log under it."""
    request_id.set(None)


@pytest.fixture
def curriculum(db):
    """The curriculum as the placement rule sees it (loaded by the data migration)."""
    from curriculum.selectors import curriculum_rules

    return curriculum_rules(fresh=True)
