"""The REST API over HTTP: keys, scopes, problem details, the endpoints, limits."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from learners.integrations.models import ApiKey
from learners.integrations.services.api_keys import api_keys_revoke
from learners.models import CompletionSource, Learner, ModuleProgress, User
from learners.services import learner_recompute_level
from tests.factories import CohortFactory, LearnerFactory, UserFactory

from .conftest import bearer

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def put(client, url, body, key):
    return client.put(url, data=json.dumps(body), content_type="application/json", **bearer(key))


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"] == "about:blank"
    return body


def test_without_a_key_the_api_answers_401_problem_details_never_html(client):
    response = client.get("/api/v1/learners/")
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_or_revoked_key_is_refused(client, read_key):
    assert_problem(client.get("/api/v1/learners/", **bearer(read_key + "x")), 401)
    assert client.get("/api/v1/learners/", **bearer(read_key)).status_code == 200
    api_keys_revoke(key_ids=list(ApiKey.objects.values_list("pk", flat=True)))
    assert_problem(client.get("/api/v1/learners/", **bearer(read_key)), 401)


def test_the_key_is_stored_hashed_and_its_use_noted(client, read_key):
    key = ApiKey.objects.get()
    assert read_key not in (key.hashed_key, key.prefix) and key.last_used_at is None
    client.get("/api/v1/learners/", **bearer(read_key))
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_a_read_key_cannot_write(client, read_key):
    learner = LearnerFactory(engineer=True)
    response = put(
        client, f"/api/v1/learners/{learner.user.email}/modules/1/", {"done": True}, read_key
    )
    assert_problem(response, 403)
    assert not ModuleProgress.objects.exists()


def test_unknown_learner_and_unknown_address_are_404_problems(client, read_key):
    assert_problem(
        client.get("/api/v1/learners/nobody@example.com/placement/", **bearer(read_key)), 404
    )
    assert_problem(client.get("/api/v1/nothing-here/", **bearer(read_key)), 404)


def test_placement_by_email(client, read_key):
    learner = LearnerFactory(engineer=True)
    learner_recompute_level(learner=learner)
    response = client.get(
        f"/api/v1/learners/{learner.user.email.upper()}/placement/", **bearer(read_key)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["level"] == learner.level and body["track"] == "engineer"
    assert body["reasons"] and body["next_steps"]["modules"] == [4, 5, 6]


def test_module_done_is_idempotent_recorded_as_api_with_the_key(client, write_key):
    learner = LearnerFactory(engineer=True)
    url = f"/api/v1/learners/{learner.user.email}/modules/2/"
    first = put(client, url, {"done": True}, write_key)
    second = put(client, url, {"done": True}, write_key)
    assert first.status_code == second.status_code == 200
    assert first.json()["completed_at"] == second.json()["completed_at"]
    done = ModuleProgress.objects.get(learner=learner)
    assert done.source == CompletionSource.API and done.via == ApiKey.objects.get().label
    assert put(client, url, {"done": False}, write_key).json()["done"] is False
    assert not ModuleProgress.objects.exists()


def test_a_module_linked_key_is_a_400_with_field_errors(client, write_key):
    learner = LearnerFactory(engineer=True)
    response = put(
        client,
        f"/api/v1/learners/{learner.user.email}/keys/engineer-1-06/",
        {"done": True},
        write_key,
    )
    body = assert_problem(response, 400)
    assert body["errors"]["key"]


def test_a_bad_body_is_a_400_naming_the_field(client, write_key):
    learner = LearnerFactory(engineer=True)
    response = put(
        client, f"/api/v1/learners/{learner.user.email}/modules/2/", {"done": "maybe"}, write_key
    )
    assert "done" in assert_problem(response, 400)["errors"]


def test_upsert_creates_then_updates_with_the_roster_rules(client, write_key):
    url = "/api/v1/learners/new.person@example.com/"
    body = {
        "first_name": "New",
        "track": "engineer",
        "cohort": "Autumn",
        "annual_compensation": 210000,
        "can_explain_concepts": True,
        "can_implement_from_scratch": True,
        "deployed_at_scale": False,
        "seen_as": "architect",
        "leads_initiatives": False,
    }
    created = put(client, url, body, write_key)
    assert created.status_code == 201, created.content
    assert created.json()["learner"]["cohort"] == "Autumn"
    learner = Learner.objects.get(user__email="new.person@example.com")
    assert learner.has_assessment and not learner.user.has_usable_password()
    updated = put(client, url, {"last_name": "Person"}, write_key)
    assert updated.status_code == 200 and updated.json()["learner"]["first_name"] == "New"


def test_upsert_refuses_half_an_assessment_and_writes_nothing(client, write_key):
    response = put(
        client,
        "/api/v1/learners/half@example.com/",
        {"track": "engineer", "can_explain_concepts": True},
        write_key,
    )
    body = assert_problem(response, 400)
    assert "can_implement_from_scratch" in body["errors"]
    assert not User.objects.filter(email="half@example.com").exists()


def test_upsert_never_touches_a_staff_account(client, write_key):
    staff = UserFactory(email="boss@example.com", is_staff=True, first_name="Boss")
    response = put(
        client, "/api/v1/learners/boss@example.com/", {"first_name": "Hacked"}, write_key
    )
    assert_problem(response, 400)
    staff.refresh_from_db()
    assert staff.first_name == "Boss"


def test_learners_filtered_with_cursor_pagination(client, read_key):
    cohort = CohortFactory(name="Spring")
    for _ in range(3):
        LearnerFactory(engineer=True, cohort=cohort, last_activity_at=timezone.now())
    LearnerFactory(founder=True)
    seen = []
    url = "/api/v1/learners/?cohort=Spring&track=engineer&active_within_days=7&page_size=2"
    while url:
        page = client.get(url, **bearer(read_key)).json()
        seen += [row["email"] for row in page["results"]]
        url = page["next"]
    assert len(seen) == 3 == len(set(seen))
    assert_problem(client.get("/api/v1/learners/?level=9", **bearer(read_key)), 400)


def test_requests_per_key_are_limited(client, read_key, settings):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "api_key": "3/min"}
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = rates
    try:
        codes = [client.get("/api/v1/learners/", **bearer(read_key)).status_code for _ in range(4)]
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original
    assert codes == [200, 200, 200, 429]


def test_schema_and_docs_are_public(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/v1/learners/{email}/placement/" in schema.content
    assert client.get("/api/docs/").status_code == 200
