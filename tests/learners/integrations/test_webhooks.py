"""Webhooks signed the way each platform documents it, posted over HTTP to a live server.

Tasks run in-process here (the test settings' default); ``test_webhooks_worker`` runs the
same receiver with a real Celery worker on Redis.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from curriculum.models import Module
from learners.integrations.models import (
    DeliveryRefusal,
    EventStatus,
    ModuleMapping,
    PlatformConnection,
    WebhookEvent,
)
from learners.integrations.services.processing import webhook_event_process
from learners.integrations.services.replay import webhook_events_replay
from learners.models import CompletionSource, ModuleProgress, User
from learners.roster import roster_import
from learners.services import module_set_done
from tests.factories import LearnerFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

THINKIFIC_SECRET = "thinkific-client-secret"
STANDARD_SECRET = "whsec_" + base64.b64encode(b"a-standard-webhooks-secret-32byt").decode()
OLD_STANDARD_SECRET = "whsec_" + base64.b64encode(b"the-previous-secret-before-rotat").decode()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 - the live server on loopback
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def settled(answer: dict) -> str:
    """What became of a stored delivery (the answer says only that it was stored)."""
    return WebhookEvent.objects.get(pk=answer["event"]).status


def thinkific_sign(body: bytes, secret: str = THINKIFIC_SECRET) -> dict[str, str]:
    # Thinkific: the hex HMAC-SHA256 of the raw body, keyed with the app's secret.
    return {"X-Thinkific-Hmac-Sha256": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def thinkific_lesson(event_id: str, email: str, *, lesson=501, course=77, at=None) -> bytes:
    at = at or datetime.now(UTC)
    return json.dumps(
        {
            "id": event_id,
            "resource": "lesson",
            "action": "completed",
            "tenant_id": "3",
            "created_at": iso(at),
            "payload": {
                "course": {"id": course, "name": "Build Your Own Frontier AI"},
                "lesson": {"id": lesson, "name": "MLA from scratch", "chapter_id": 12},
                "user": {"id": 9, "email": email, "first_name": "Ada", "last_name": "L"},
                "completed_at": iso(at),
            },
        }
    ).encode()


@pytest.fixture
def thinkific(live_server):
    connection = PlatformConnection.objects.create(
        name="Thinkific", slug="thinkific", kind="thinkific", secrets=THINKIFIC_SECRET
    )
    ModuleMapping.objects.create(
        connection=connection, course_id="77", lesson_id="501", module=Module.objects.get(number=2)
    )
    ModuleMapping.objects.create(
        connection=connection, course_id="78", module=Module.objects.get(number=3)
    )
    return f"{live_server.url}/webhooks/thinkific/"


@pytest.fixture
def learner():
    return LearnerFactory(engineer=True, user__email="ada@example.com")


def test_a_signed_lesson_completion_completes_its_module(thinkific, learner):
    at = datetime.now(UTC) - timedelta(seconds=30)
    status, answer = post(
        thinkific, body := thinkific_lesson("e1", "ada@example.com", at=at), thinkific_sign(body)
    )
    assert status == 202 and settled(answer) == EventStatus.PROCESSED
    done = ModuleProgress.objects.get(learner=learner)
    assert done.module.number == 2 and done.source == CompletionSource.PLATFORM
    assert done.via == "Thinkific" and abs(done.completed_at - at) < timedelta(milliseconds=1)
    event = WebhookEvent.objects.get()
    assert event.headers["x-thinkific-hmac-sha256"] and bytes(event.body) == body


@pytest.mark.parametrize("case", ["unsigned", "wrong secret", "tampered body"])
def test_a_refused_delivery_keeps_no_body_and_writes_nothing(thinkific, learner, case):
    body = thinkific_lesson("e1", "ada@example.com")
    headers = thinkific_sign(body)
    if case == "unsigned":
        headers = {}
    elif case == "wrong secret":
        headers = thinkific_sign(body, "not-the-secret")
    else:
        body = body.replace(b'"id": 501', b'"id": 502')
    status, answer = post(thinkific, body, headers)
    assert status == 401 and answer["status"] == 401
    # No event, no body: only a small record of the refusal.
    assert not WebhookEvent.objects.exists() and not ModuleProgress.objects.exists()
    refusal = DeliveryRefusal.objects.get()
    assert refusal.status == 401 and refusal.reason and refusal.size == len(body)
    assert refusal.client_ip == "127.0.0.1"


def test_a_thinkific_retry_of_any_age_is_accepted_and_a_future_date_is_the_receipt_time(
    thinkific, learner
):
    """Thinkific signs no timestamp and retries for hours: an hour-old lesson completion
    is accepted; a completion dated a year ahead is recorded at the time it arrived."""
    now = datetime.now(UTC)
    old = thinkific_lesson("e-old", "ada@example.com", at=now - timedelta(hours=1))
    status, answer = post(thinkific, old, thinkific_sign(old))
    assert status == 202 and settled(answer) == EventStatus.PROCESSED
    done = ModuleProgress.objects.get(learner=learner)
    assert abs(done.completed_at - (now - timedelta(hours=1))) < timedelta(milliseconds=1)

    ahead = thinkific_lesson("e-ahead", "ada@example.com", lesson=502, course=77, at=now)
    ahead = ahead.replace(iso(now).encode(), iso(now + timedelta(days=365)).encode())
    ModuleMapping.objects.create(
        connection=PlatformConnection.objects.get(),
        course_id="77",
        lesson_id="502",
        module=Module.objects.get(number=1),
    )
    status, answer = post(thinkific, ahead, thinkific_sign(ahead))
    assert status == 202 and settled(answer) == EventStatus.PROCESSED
    event = WebhookEvent.objects.get(pk=answer["event"])
    assert event.occurred_at == event.received_at
    first = ModuleProgress.objects.get(learner=learner, module__number=1)
    assert first.completed_at == event.received_at


def test_the_same_event_id_twice_is_processed_once(thinkific, learner):
    body = thinkific_lesson("e1", "ada@example.com")
    first = post(thinkific, body, thinkific_sign(body))
    second = post(thinkific, body, thinkific_sign(body))
    assert first[0] == 202 and settled(first[1]) == EventStatus.PROCESSED
    assert second[0] == 202 and second[1]["status"] == EventStatus.DUPLICATE
    assert ModuleProgress.objects.count() == 1
    assert sorted(WebhookEvent.objects.values_list("status", flat=True)) == [
        "duplicate",
        "processed",
    ]


def test_out_of_order_deliveries_keep_the_earliest_completion(thinkific, learner):
    now = datetime.now(UTC)
    later = thinkific_lesson("e2", "ada@example.com", at=now - timedelta(seconds=10))
    earlier = thinkific_lesson("e1", "ada@example.com", at=now - timedelta(seconds=100))
    assert post(thinkific, later, thinkific_sign(later))[0] == 202
    assert post(thinkific, earlier, thinkific_sign(earlier))[0] == 202
    done = ModuleProgress.objects.get(learner=learner)
    assert abs(done.completed_at - (now - timedelta(seconds=100))) < timedelta(milliseconds=1)


def test_an_unknown_learner_is_unmatched_then_replayed_after_an_import(thinkific):
    body = thinkific_lesson("e1", "newcomer@example.com")
    status, answer = post(thinkific, body, thinkific_sign(body))
    assert status == 202 and settled(answer) == EventStatus.UNMATCHED
    assert not ModuleProgress.objects.exists()

    header = "email,first_name,last_name,track,cohort,timezone,annual_compensation,monthly_recurring_revenue,monthly_api_cost,can_explain_concepts,can_implement_from_scratch,deployed_at_scale,seen_as,leads_initiatives,owns_model_weights,replicable_by_competitors,investor_fundable,nudges_enabled,completed_modules,completed_keys"
    report = roster_import(header + "\nnewcomer@example.com,New,Comer" + "," * 17 + "\n")
    assert report.ok, report.errors
    event = WebhookEvent.objects.get()
    assert event.status == EventStatus.PROCESSED and event.learner.user.email == (
        "newcomer@example.com"
    )
    assert ModuleProgress.objects.get().source == CompletionSource.PLATFORM


def test_an_unmapped_lesson_waits_for_its_mapping_and_a_replay(thinkific, learner):
    body = thinkific_lesson("e1", "ada@example.com", lesson=999)
    status, answer = post(thinkific, body, thinkific_sign(body))
    assert status == 202 and settled(answer) == EventStatus.UNMAPPED
    assert not ModuleProgress.objects.exists()
    event = WebhookEvent.objects.get()
    ModuleMapping.objects.create(
        connection=event.connection,
        course_id="77",
        lesson_id="999",
        module_id=event.connection.mappings.first().module_id,
    )
    assert webhook_events_replay(event_ids=[event.pk]) == 1
    event.refresh_from_db()
    assert event.status == EventStatus.PROCESSED and ModuleProgress.objects.count() == 1


def test_an_enrollment_completed_completes_the_course_module(thinkific, learner):
    body = json.dumps(
        {
            "id": "e9",
            "resource": "enrollment",
            "action": "completed",
            "tenant_id": "3",
            "created_at": iso(datetime.now(UTC)),
            "payload": {
                "course": {"id": 78, "name": "Foundation"},
                "course_id": 78,
                "percentage_completed": "1.0",
                "completed_at": iso(datetime.now(UTC)),
                "user": {"id": 9, "email": "ada@example.com"},
            },
        }
    ).encode()
    assert settled(post(thinkific, body, thinkific_sign(body))[1]) == EventStatus.PROCESSED
    assert ModuleProgress.objects.get(learner=learner).module.number == 3


def test_the_learner_cannot_untick_a_platform_completion_an_instructor_can(
    thinkific, learner, client
):
    body = thinkific_lesson("e1", "ada@example.com")
    post(thinkific, body, thinkific_sign(body))
    client.force_login(learner.user)
    module = Module.objects.get(number=2)
    page = client.get("/progress/").content.decode()
    when = ModuleProgress.objects.get().completed_at
    assert f"Completed on Thinkific, {when.day} {when:%b}" in page
    assert f'formaction="/progress/modules/{module.pk}/" name="done" value="0"' not in page
    response = client.post(f"/progress/modules/{module.pk}/", {"done": "0"}, follow=True)
    assert "only an instructor" in response.content.decode()
    assert ModuleProgress.objects.filter(learner=learner, module=module).exists()
    module_set_done(learner=learner, module=module, done=False, source=CompletionSource.INSTRUCTOR)
    assert not ModuleProgress.objects.exists()


def test_standard_webhooks_with_secret_rotation(live_server, learner):
    connection = PlatformConnection.objects.create(
        name="Course site",
        slug="course-site",
        kind="standard",
        secrets=f"{STANDARD_SECRET}\n{OLD_STANDARD_SECRET}",
    )
    ModuleMapping.objects.create(
        connection=connection, course_id="c1", lesson_id="l7", module=Module.objects.get(number=7)
    )
    url = f"{live_server.url}/webhooks/course-site/"

    def deliver(message_id: str, secret: str, sent: datetime) -> tuple[int, dict]:
        body = json.dumps(
            {
                "type": "lesson.completed",
                "timestamp": iso(sent),
                "data": {"email": "Ada@Example.com", "course_id": "c1", "lesson_id": "l7"},
            }
        ).encode()
        signature = Webhook(secret).sign(message_id, sent, body.decode())
        headers = {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(sent.timestamp())),
            "webhook-signature": signature,
        }
        return post(url, body, headers)

    now = datetime.now(UTC)
    assert deliver("msg_old", STANDARD_SECRET, now - timedelta(minutes=6))[0] == 401
    assert deliver("msg_bad", "whsec_" + base64.b64encode(b"x" * 32).decode(), now)[0] == 401
    assert settled(deliver("msg_1", OLD_STANDARD_SECRET, now)[1]) == EventStatus.PROCESSED
    assert deliver("msg_1", STANDARD_SECRET, now)[1]["status"] == EventStatus.DUPLICATE
    assert ModuleProgress.objects.get(learner=learner).module.number == 7


def test_an_unknown_connection_is_a_404_and_stores_nothing(live_server):
    status, answer = post(f"{live_server.url}/webhooks/nope/", b"{}", {})
    assert status == 404 and answer["status"] == 404
    assert not WebhookEvent.objects.exists()


def test_the_progress_page_leads_with_continue_to_the_lesson(client, learner):
    Module.objects.filter(number=4).update(course_url="https://school.example/courses/mtp")
    client.force_login(learner.user)
    page = client.get("/progress/").content.decode()
    title = Module.objects.get(number=4).title
    assert (
        f'href="https://school.example/courses/mtp" rel="noopener">Continue Module 4: {title} →</a>'
        in page
    )


def test_an_event_matches_a_learner_whose_stored_address_has_capitals():
    """Addresses are unique by their lower case (user_email_unique_ci); an address stored
    with capitals (an older row, an admin's edit) still matches the platform's."""
    learner = LearnerFactory(engineer=True, user__email="grace@example.com")
    User.objects.filter(pk=learner.user_id).update(email="Grace.Hopper@Example.COM")
    connection = PlatformConnection.objects.create(name="Site", slug="site", kind="standard")
    ModuleMapping.objects.create(
        connection=connection, course_id="c1", lesson_id="l1", module=Module.objects.get(number=3)
    )
    body = json.dumps(
        {
            "type": "lesson.completed",
            "timestamp": "2026-06-01T10:00:00Z",
            "data": {"email": "GRACE.hopper@example.com", "course_id": "c1", "lesson_id": "l1"},
        }
    ).encode()
    event = WebhookEvent.objects.create(
        connection=connection, body=body, headers={"webhook-id": "msg_caps"}, event_id="msg_caps"
    )
    assert webhook_event_process(event_id=event.pk) == EventStatus.PROCESSED
    assert ModuleProgress.objects.get(learner=learner).module.number == 3
