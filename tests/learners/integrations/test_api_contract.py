"""The API does what its schema says: a typo or a wrong type is a 400 problem naming it,
never the unfiltered list or a silently ignored field; the refusals are documented."""

from __future__ import annotations

import json

import pytest

from learners.models import KeyCompletion, Learner, ModuleProgress
from tests.factories import CohortFactory, LearnerFactory

from .conftest import bearer

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
LIST = "/api/v1/learners/"


def errors(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    return response.json()["errors"]


def put(client, url, body, key):
    return client.put(url, data=json.dumps(body), content_type="application/json", **bearer(key))


@pytest.fixture
def roster():
    spring = CohortFactory(name="Spring")
    CohortFactory(name="Empty")
    LearnerFactory(engineer=True, cohort=spring)
    LearnerFactory(founder=True)
    return spring


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("?cohrt=Spring", "cohrt"),  # a typo of a filter's name
        ("?track=", "track"),  # blank: DRF's form handling dropped it and listed everyone
        ("?cohort=", "cohort"),
        ("?level=", "level"),
        ("?track=enginer", "track"),  # a value no track has
        ("?cohort=Sprng", "cohort"),  # a name no cohort has
        ("?track=engineer&track=founder", "track"),  # twice
        ("?level=1.0", "level"),  # DRF's integer field took "1.0"
        ("?level=5", "level"),
        ("?page_size=0", "page_size"),  # DRF's paginator fell back to 100
        ("?page_size=many", "page_size"),
        ("?cursor=not-a-cursor", "cursor"),  # DRF answered 404
    ],
)
def test_a_typo_in_the_list_query_is_a_400_naming_it_never_the_whole_list(
    client, read_key, roster, query, named
):
    assert named in errors(client.get(LIST + query, **bearer(read_key)))


def test_the_filters_still_narrow_and_a_cohort_without_learners_is_an_empty_list(
    client, read_key, roster
):
    def emails(query):
        response = client.get(LIST + query, **bearer(read_key))
        assert response.status_code == 200, response.content
        return [row["email"] for row in response.json()["results"]]

    assert len(emails("")) == 2
    assert emails("?cohort=Spring&track=engineer&page_size=1") == [
        learner.user.email for learner in Learner.objects.filter(cohort=roster)
    ]
    assert emails("?cohort=Empty") == []


def test_endpoints_without_parameters_refuse_any(client, read_key):
    learner = LearnerFactory(engineer=True)
    for path in (f"{LIST}{learner.user.email}/", f"{LIST}{learner.user.email}/placement/"):
        assert errors(client.get(f"{path}?fields=email", **bearer(read_key))) == {
            "fields": ["Unknown query parameter."]
        }


@pytest.mark.parametrize("done", ["yes", "true", 1, 0, None, "", [True]])
def test_done_is_a_json_boolean_and_nothing_else(client, write_key, done):
    learner = LearnerFactory(engineer=True)
    url = f"{LIST}{learner.user.email}/modules/2/"
    assert "done" in errors(put(client, url, {"done": done}, write_key))
    assert not ModuleProgress.objects.exists()
    assert put(client, url, {"done": True}, write_key).json()["done"] is True


def test_a_body_field_the_endpoint_does_not_know_is_refused_and_nothing_written(client, write_key):
    learner = LearnerFactory(engineer=True)
    url = f"{LIST}{learner.user.email}/modules/2/"
    assert errors(put(client, url, {"done": True, "completed_at": "2026-01-01"}, write_key)) == {
        "completed_at": ["Unknown field."]
    }
    assert not ModuleProgress.objects.exists()
    created = put(client, f"{LIST}new@example.com/", {"frist_name": "Ada"}, write_key)
    assert errors(created) == {"frist_name": ["Unknown field."]}
    assert not Learner.objects.filter(user__email="new@example.com").exists()


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"first_name": 5}, "first_name"),  # DRF made the number text
        ({"nudges_enabled": "no"}, "nudges_enabled"),
        ({"annual_compensation": "180000"}, "annual_compensation"),  # DRF took the string
        ({"can_explain_concepts": "yes"}, "can_explain_concepts"),
    ],
)
def test_upsert_fields_have_their_json_types(client, write_key, body, named):
    learner = LearnerFactory(engineer=True, user__first_name="Ada")
    assert named in errors(put(client, f"{LIST}{learner.user.email}/", body, write_key))
    learner.user.refresh_from_db()
    assert learner.user.first_name == "Ada" and learner.nudges_enabled


def test_a_key_for_a_learner_without_a_track_or_of_the_other_track_is_refused(client, write_key):
    founder = LearnerFactory(founder=True)
    trackless = LearnerFactory(user__email="no.track@example.com")
    assert trackless.track_id is None
    key = "engineer-1-01"
    refused = errors(
        put(client, f"{LIST}{trackless.user.email}/keys/{key}/", {"done": True}, write_key)
    )
    assert refused == {"key": ["This learner has no track yet; keys belong to a track."]}
    refused = errors(
        put(client, f"{LIST}{founder.user.email}/keys/{key}/", {"done": True}, write_key)
    )
    assert refused == {"key": [f"{key} is not a key of this learner's track."]}
    assert not KeyCompletion.objects.exists()


# --- what the schema says about it -------------------------------------------------------


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_the_schema_documents_the_refusals(schema):
    paths = schema["paths"]
    listed = paths["/api/v1/learners/"]["get"]
    track = next(p for p in listed["parameters"] if p["name"] == "track")
    assert track["schema"]["minLength"] == 1 and "engineer or founder" in track["description"]
    assert {p["name"] for p in listed["parameters"] if p["in"] == "query"} == {
        "cohort", "track", "level", "active_within_days", "inactive_days", "cursor", "page_size"
    }  # fmt: skip
    assert "cohort no one has" in listed["responses"]["400"]["description"]
    key_done = paths["/api/v1/learners/{email}/keys/{code}/"]["put"]["responses"]["400"]
    assert "no track yet" in key_done["description"]
    assert "other track" in key_done["description"]
    for name in ("Done", "LearnerWrite"):
        assert schema["components"]["schemas"][name]["additionalProperties"] is False
    assert schema["components"]["schemas"]["Done"]["properties"]["done"]["type"] == "boolean"


def test_the_schema_documents_the_rate_limit_fields(schema):
    for path in schema["paths"].values():
        for operation in path.values():
            responses = operation["responses"]
            assert responses["200"]["headers"]["RateLimit"]["required"] is True
            assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
                responses["200"]["headers"]
            )
            assert responses["429"]["headers"]["Retry-After"]["required"] is True
            assert "headers" not in responses["401"]


def test_a_nul_anywhere_in_a_request_is_a_400_never_a_500(client, write_key):
    # PostgreSQL refuses text containing NUL: found on PostgreSQL with a NUL in the email of
    # the path (a 500); the body's text fields refuse it as DRF's CharField does.
    for path in (f"{LIST}a%00b@example.com/", f"{LIST}a%00b@example.com/placement/"):
        assert client.get(path, **bearer(write_key)).status_code == 400
    assert put(client, f"{LIST}a%00b@example.com/", {}, write_key).status_code == 400
    refused = put(client, f"{LIST}ab@example.com/", {"first_name": "A\x00"}, write_key)
    assert "first_name" in errors(refused)
    assert not Learner.objects.filter(user__email="ab@example.com").exists()
