"""The Standard Webhooks receiver as the OpenAPI document describes it (3.1 ``webhooks``).

An integrator reads only ``/api/schema/``: each test takes the body, the headers and the
answers from the served document, signs as it says with the ``standardwebhooks`` library
(the reference implementation of the Standard Webhooks spec, standardwebhooks.com, v1.0.0),
posts to the receiver and checks the answer against the document.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from standardwebhooks.webhooks import Webhook

from curriculum.models import Module
from learners.integrations.models import (
    EventStatus,
    ModuleMapping,
    PlatformConnection,
    WebhookEvent,
)
from learners.models import CompletionSource, ModuleProgress
from tests.factories import LearnerFactory

SECRET = "whsec_" + base64.b64encode(b"the-docs-test-secret-of-32-bytes").decode()
DOCUMENT = json.loads(
    Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content
)
KINDS = ("lesson.completed", "course.completed")


def _as_paths(document: dict) -> dict:
    """The webhooks as operations on the receiver's URL (one connection per event type),
    for schemathesis to generate documented requests from."""
    paths = {f"/webhooks/docs-{kind.split('.')[0]}/": document["webhooks"][kind] for kind in KINDS}
    return {**document, "paths": paths, "webhooks": {}}


GENERATED = schemathesis.openapi.from_dict(_as_paths(DOCUMENT))


REGISTRY = Registry().with_resource(
    "urn:doc", Resource.from_contents(DOCUMENT, default_specification=DRAFT202012)
)


def validator(schema: dict) -> Draft202012Validator:
    """A JSON Schema (2020-12, as in OpenAPI 3.1) validator for a part of the document,
    its ``$ref``s resolved in the document."""
    rooted = json.loads(json.dumps(schema).replace('"#/components/', '"urn:doc#/components/'))
    return Draft202012Validator(rooted, registry=REGISTRY)


def signed(body: bytes, message_id: str, secret: str = SECRET) -> dict[str, str]:
    """The three headers the document requires, made as it says."""
    sent = datetime.now(UTC)
    return {
        "HTTP_WEBHOOK_ID": message_id,
        "HTTP_WEBHOOK_TIMESTAMP": str(int(sent.timestamp())),
        "HTTP_WEBHOOK_SIGNATURE": Webhook(secret).sign(message_id, sent, body.decode()),
    }


def answer_matches_document(kind: str, response) -> dict:
    """The answer's status is documented for the webhook and its body is as documented."""
    answers = DOCUMENT["webhooks"][kind]["post"]["responses"]
    assert str(response.status_code) in answers, response.content
    content = answers[str(response.status_code)]["content"]
    media = response["Content-Type"].split(";")[0]
    assert media in content
    body = response.json()
    errors = list(validator(content[media]["schema"]).iter_errors(body))
    assert not errors, errors
    for name, header in answers[str(response.status_code)].get("headers", {}).items():
        assert not header.get("required") or response.has_header(name)
    return body


@pytest.fixture
def connections(db):
    made = {}
    for kind in KINDS:
        slug = f"docs-{kind.split('.')[0]}"
        made[kind] = PlatformConnection.objects.create(
            name=f"Docs {kind}", slug=slug, kind="standard", secrets=SECRET
        )
    return made


# --- what the document says ------------------------------------------------------------


def test_the_document_is_openapi_3_1_with_the_standard_webhooks_events():
    assert DOCUMENT["openapi"].startswith("3.1")
    assert set(DOCUMENT["webhooks"]) == set(KINDS)
    for kind in KINDS:
        operation = DOCUMENT["webhooks"][kind]["post"]
        headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
        assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        assert all(header["required"] for header in headers.values())
        assert (
            "<webhook-id>.<webhook-timestamp>.<raw body>"
            in headers["webhook-signature"]["description"]
        )
        assert "/webhooks/<connection>/" in operation["description"]
        assert {"202", "400", "401", "404", "413", "429"} <= set(operation["responses"])
        body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        event = DOCUMENT["components"]["schemas"][body.rsplit("/", 1)[1]]
        assert event["properties"]["type"]["enum"] == [kind]
        data = DOCUMENT["components"]["schemas"][
            event["properties"]["data"]["$ref"].rsplit("/", 1)[1]
        ]
        assert {"email", "course_id"} <= set(data["required"])
        assert ("lesson_id" in data["required"]) == (kind == "lesson.completed")


# --- what the receiver does with it ------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("kind", KINDS)
def test_the_documented_example_signed_as_documented_completes_its_module(client, kind):
    operation = DOCUMENT["webhooks"][kind]["post"]
    media = operation["requestBody"]["content"]["application/json"]
    example = next(iter(media["examples"].values()))["value"]
    assert not list(validator(media["schema"]).iter_errors(example))
    connection = PlatformConnection.objects.create(
        name="Course site", slug="course-site", kind="standard", secrets=SECRET
    )
    data = example["data"]
    module = Module.objects.get(number=6)
    ModuleMapping.objects.create(
        connection=connection,
        course_id=data["course_id"],
        lesson_id=data.get("lesson_id", ""),
        module=module,
    )
    learner = LearnerFactory(engineer=True, user__email=data["email"])
    body = json.dumps(example).encode()
    url = "/webhooks/course-site/"

    unsigned = client.post(url, body, content_type="application/json")
    assert unsigned.status_code == 401
    answer_matches_document(kind, unsigned)
    wrong = client.post(
        url, body, content_type="application/json", **signed(body, "msg_1", "whsec_" + "A" * 44)
    )
    assert wrong.status_code == 401
    nowhere = client.post(
        "/webhooks/no-such/", body, content_type="application/json", **signed(body, "msg_1")
    )
    assert nowhere.status_code == 404
    answer_matches_document(kind, nowhere)
    assert not ModuleProgress.objects.exists()

    stored = client.post(url, body, content_type="application/json", **signed(body, "msg_1"))
    assert answer_matches_document(kind, stored)["status"] == EventStatus.RECEIVED
    done = ModuleProgress.objects.get(learner=learner)
    assert done.module == module and done.source == CompletionSource.PLATFORM
    again = client.post(url, body, content_type="application/json", **signed(body, "msg_1"))
    assert answer_matches_document(kind, again)["status"] == EventStatus.DUPLICATE


@pytest.mark.parametrize("kind", KINDS)
def test_every_body_the_document_allows_is_accepted_when_signed(connections, kind):
    """Bodies generated from the documented schema (schemathesis), bounded: none is
    refused or breaks the receiver, and every answer is as documented."""
    operation = GENERATED[f"/webhooks/docs-{kind.split('.')[0]}/"]["POST"]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def deliver(case):
        body = json.dumps(case.body).encode()
        response = Client().post(
            case.formatted_path,
            body,
            content_type="application/json",
            **signed(body, f"msg_{time.monotonic_ns()}"),
        )
        assert response.status_code == 202, response.content
        answer_matches_document(kind, response)

    deliver()
    assert WebhookEvent.objects.filter(connection=connections[kind]).count() >= 15


def postgres_refuses(event: dict) -> bool:
    """Text with a NUL, or a time zone offset of 16 hours or more (valid ISO 8601 that
    Python reads; PostgreSQL refuses both)."""
    if "\\u0000" in json.dumps(event):
        return True
    times = [event.get("timestamp"), (event.get("data") or {}).get("completed_at")]
    for text in filter(None, times):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except (TypeError, ValueError):
            continue
        if moment.utcoffset() and abs(moment.utcoffset()) >= timedelta(hours=16):
            return True
    return False


@pytest.mark.parametrize(
    ("course_id", "completed_at"),
    [("frontier\u0000ai", "2026-01-01T09:30:00Z"), ("frontier-ai", "2000-01-01T00:00:00+16:00")],
    ids=["nul-in-text", "offset-of-16-hours"],
)
def test_what_postgresql_refuses_is_answered_not_a_server_error(
    connections, request, course_id, completed_at
):
    """Found by the test above on PostgreSQL, which refuses text containing NUL and time
    zone offsets of 16 hours or more (the receiver stored the body's fields as they were and
    answered 500): NUL is dropped from what is read, times are kept in UTC."""
    event = {
        "type": "course.completed",
        "timestamp": "2026-01-01T09:30:00Z",
        "data": {"email": "ada@example.com", "course_id": course_id, "completed_at": completed_at},
    }
    assert postgres_refuses(event)
    body = json.dumps(event).encode()
    response = Client().post(
        "/webhooks/docs-course/", body, content_type="application/json", **signed(body, "msg_pg")
    )
    assert response.status_code in (202, 400)
    answer_matches_document("course.completed", response)
