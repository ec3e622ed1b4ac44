"""Real parts for the reliability tests: the test database served by gunicorn."""

from __future__ import annotations

import pytest
from django.db import connection

from curriculum.models import Track
from curriculum.services import curriculum_load
from tests.learners.nudges.conftest import (  # noqa: F401 - fixtures used here too
    no_holdout,
    no_quiet_hours,
    redis_broker_url,
    smtp_server,
)

from .load import GUNICORN


@pytest.fixture
def postgres(transactional_db, django_db_serialized_rollback) -> dict:
    """The test database's settings, when it is PostgreSQL (the data the test writes is
    committed, so a server in another process sees it).

    With serialized rollback: a transactional test without it ends with a flush that
    recreates the content types under new ids, and the next test with it then fails to
    restore the database (a duplicate content type), whatever order the tests run in.
    """
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL): SQLite serialises every writer")
    if not GUNICORN.exists():
        pytest.skip(f"gunicorn is not installed at {GUNICORN}")
    if not Track.objects.exists():
        # A transactional test without serialized rollback ran before and emptied the tables.
        curriculum_load()
    return connection.settings_dict
