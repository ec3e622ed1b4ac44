"""The API against its own OpenAPI schema, with property-based requests (schemathesis):
no answer is a 500, every answer (problem details and rate-limit headers included) matches
the schema, and a request the schema forbids (a blank filter, a string for a boolean, an
unknown body field) is refused. Bounded: 30 examples per operation (about 17 s of CPU)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import checks

from learners.integrations.models import ApiScope
from learners.integrations.services.api_keys import api_key_create
from tests.factories import LearnerFactory

# Loaded from the running application (the schema view reads no database).
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture
def _keep_the_test_connection():
    """The WSGI handler closes database connections around each request (Django's test
    client disconnects that too): the test's connection holds its transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_key(db, _keep_the_test_connection) -> str:
    # A learner the generated requests can find now and then, and a key that may write.
    LearnerFactory(engineer=True, user__email="ada@example.com")
    return api_key_create(name="schemathesis", scope=ApiScope.WRITE)[1]


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_matches_its_schema(case, api_key):
    # Business rules beyond the schema (a whole self-assessment, a known track or cohort, an
    # email that is an address) rightly refuse some schema-valid requests with a documented
    # 400 problem, so the positive-data check is off. Every other check runs: what the
    # schema forbids is refused, never a 500, a documented status, content type, headers
    # and body.
    case.call_and_validate(
        headers={"Authorization": f"Bearer {api_key}"},
        excluded_checks=[checks.positive_data_acceptance],
    )
