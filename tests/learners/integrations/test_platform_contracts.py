"""Each platform as it really sends, posted over HTTP to a live server.

The bodies are the fixtures in ``platform_payloads/`` (each file's source is in its
``SOURCES.md``: the platforms' public documentation and open-source receivers), with only
the address, ids or times a test needs changed, as each test says. Tasks run in-process
here; ``test_webhooks_worker`` posts the Teachable array to a real Celery worker.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.cache import cache

from curriculum.models import Module
from learners.integrations.models import (
    DeliveryRefusal,
    EventStatus,
    ModuleMapping,
    PlatformConnection,
    WebhookEvent,
)
from learners.integrations.services.intake import REFUSALS_KEPT
from learners.models import ModuleProgress
from tests.factories import LearnerFactory

from .test_webhooks import iso, post, settled

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PAYLOADS = Path(__file__).parent / "platform_payloads"
THINKIFIC_API_KEY = "thinkific-site-api-key"


def payload(name: str):
    return json.loads((PAYLOADS / name).read_text())


def thinkific_signed(data) -> tuple[bytes, dict[str, str]]:
    """Signed as Thinkific documents it and MCKLtech/thinkific-php checks it: the hex
    HMAC-SHA256 of the raw body, keyed with the site's API key."""
    body = json.dumps(data).encode()
    digest = hmac.new(THINKIFIC_API_KEY.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-Thinkific-Hmac-Sha256": digest}


@pytest.fixture(autouse=True)
def fresh_counters():
    """Refusal counters live in the cache; each test starts from none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def teachable(live_server):
    connection = PlatformConnection.objects.create(
        name="Teachable", slug="school", kind="teachable"
    )
    # The array fixture's course and lecture; the enrollment fixture's course.
    ModuleMapping.objects.create(
        connection=connection,
        course_id="2966495",
        lesson_id="65421249",
        module=Module.objects.get(number=4),
    )
    ModuleMapping.objects.create(
        connection=connection, course_id="101", module=Module.objects.get(number=5)
    )
    connection.url = f"{live_server.url}/webhooks/school/{connection.url_token}/"
    return connection


@pytest.fixture
def thinkific(live_server):
    connection = PlatformConnection.objects.create(
        name="Thinkific", slug="thinkific", kind="thinkific", secrets=THINKIFIC_API_KEY
    )
    # The lesson.completed fixture's course and lesson; the enrollment fixtures' course.
    ModuleMapping.objects.create(
        connection=connection,
        course_id="123",
        lesson_id="24220",
        module=Module.objects.get(number=2),
    )
    ModuleMapping.objects.create(
        connection=connection, course_id="25", module=Module.objects.get(number=3)
    )
    connection.url = f"{live_server.url}/webhooks/thinkific/"
    return connection


# Teachable ----------------------------------------------------------------------------


def test_an_unsigned_teachable_array_to_the_token_url_completes_the_mapped_module(teachable):
    learner = LearnerFactory(engineer=True, user__email="learner@example.com")
    body = (PAYLOADS / "teachable_lecture_progress_created_array.json").read_bytes()
    status, answer = post(teachable.url, body, {})
    assert status == 202 and [settled(item) for item in answer["events"]] == ["processed"]
    done = ModuleProgress.objects.get(learner=learner)
    assert done.module.number == 4 and done.via == "Teachable"
    event = WebhookEvent.objects.get()
    # The event's own id, not the object's (the top-level id).
    assert event.event_id == "879398686" and event.topic == "LectureProgress.created"


def test_each_element_of_a_teachable_array_is_its_own_event(teachable):
    LearnerFactory(engineer=True, user__email="learner@example.com")
    lecture = payload("teachable_lecture_progress_created_array.json")[0]
    user = payload("teachable_user_created_array.json")[0]
    body = json.dumps([user, lecture]).encode()
    status, answer = post(teachable.url, body, {})
    assert status == 202
    assert [settled(item) for item in answer["events"]] == ["ignored", "processed"]
    assert WebhookEvent.objects.count() == 2


def test_teachable_enrollment_created_then_completed_are_both_processed(teachable):
    """Both carry the enrollment's id as their top-level ``id``; ``hook_event_id`` tells
    the two events apart (the fixture's created event is the completed one retyped)."""
    learner = LearnerFactory(engineer=True, user__email="student@example.com")
    completed = payload("teachable_enrollment_completed.json")
    created = {
        **completed,
        "type": "Enrollment.created",
        "hook_event_id": completed["hook_event_id"] - 1,
    }
    first = post(teachable.url, json.dumps(created).encode(), {})
    second = post(teachable.url, json.dumps(completed).encode(), {})
    assert first[0] == second[0] == 202
    assert settled(first[1]) == EventStatus.IGNORED
    assert settled(second[1]) == EventStatus.PROCESSED
    assert ModuleProgress.objects.get(learner=learner).module.number == 5
    # The same event delivered again (Teachable retries) is a duplicate.
    again = post(teachable.url, json.dumps(completed).encode(), {})
    assert again[1]["status"] == EventStatus.DUPLICATE


def test_teachable_without_hook_event_id_dedups_on_type_object_and_time(teachable):
    LearnerFactory(engineer=True, user__email="ikosymus-2632@yopmail.com")
    ModuleMapping.objects.create(
        connection=teachable,
        course_id="301405",
        lesson_id="4666823",
        module=Module.objects.get(number=1),
    )
    data = payload("teachable_lecture_progress_created.json")  # verbatim, real delivery
    del data["hook_event_id"]
    body = json.dumps(data).encode()
    assert settled(post(teachable.url, body, {})[1]) == EventStatus.PROCESSED
    assert post(teachable.url, body, {})[1]["status"] == EventStatus.DUPLICATE
    event = WebhookEvent.objects.get(status=EventStatus.PROCESSED)
    assert event.event_id == "LectureProgress.created:82892710:2018-03-22T12:28:58+00:00"


@pytest.mark.parametrize("where", ["no token", "wrong token"])
def test_teachable_outside_its_token_url_is_refused(teachable, where):
    LearnerFactory(engineer=True, user__email="learner@example.com")
    body = (PAYLOADS / "teachable_lecture_progress_created_array.json").read_bytes()
    url = teachable.url.replace(teachable.url_token + "/", "")
    if where == "wrong token":
        url += "x" * 43 + "/"
    status, answer = post(url, body, {})
    assert status == 401 and answer["status"] == 401
    assert not WebhookEvent.objects.exists() and not ModuleProgress.objects.exists()
    assert DeliveryRefusal.objects.get().status == 401


def test_a_rotated_token_keeps_the_old_one_for_its_grace_period(teachable):
    from learners.integrations.services.connections import connection_rotate_url_token

    LearnerFactory(engineer=True, user__email="learner@example.com")
    old_url = teachable.url
    now = datetime.now(UTC)
    connection_rotate_url_token(connection=teachable, grace=timedelta(days=7), now=now)
    teachable.refresh_from_db()
    new_url = old_url.replace(teachable.previous_url_token, teachable.url_token)
    assert new_url != old_url and len(teachable.url_token) >= 43  # 256 bits, base64
    body = (PAYLOADS / "teachable_lecture_progress_created_array.json").read_bytes()
    assert post(old_url, body, {})[0] == 202
    assert post(new_url, body, {})[0] == 202  # a duplicate of the same event
    PlatformConnection.objects.filter(pk=teachable.pk).update(
        previous_url_token_until=now - timedelta(seconds=1)
    )
    assert post(old_url, body, {})[0] == 401


def test_a_teachable_signature_is_checked_when_present_and_a_secret_is_set(teachable):
    LearnerFactory(engineer=True, user__email="learner@example.com")
    PlatformConnection.objects.filter(pk=teachable.pk).update(secrets="shared-secret")
    body = (PAYLOADS / "teachable_lecture_progress_created_array.json").read_bytes()
    assert post(teachable.url, body, {"Teachable-Signature": "0" * 64})[0] == 401
    good = hmac.new(b"shared-secret", body, hashlib.sha256).hexdigest()
    assert post(teachable.url, body, {"Teachable-Signature": good})[0] == 202
    # Unsigned, as Teachable really sends: the token is enough.
    assert post(teachable.url, body, {})[0] == 202


# Thinkific ----------------------------------------------------------------------------


def test_a_thinkific_lesson_completed_an_hour_ago_is_accepted(thinkific):
    learner = LearnerFactory(engineer=True, user__email="ninjas@thinkific.com")
    data = payload("thinkific_lesson_completed.json")  # verbatim sample
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    data["created_at"] = iso(an_hour_ago)
    status, answer = post(thinkific.url, *thinkific_signed(data))
    assert status == 202 and settled(answer) == EventStatus.PROCESSED
    done = ModuleProgress.objects.get(learner=learner)
    assert done.module.number == 2
    assert abs(done.completed_at - an_hour_ago) < timedelta(milliseconds=1)


def test_the_verbatim_2019_thinkific_sample_is_accepted_years_later(thinkific):
    """Thinkific signs no timestamp: a retry of any age is accepted, and its id makes it
    idempotent."""
    learner = LearnerFactory(engineer=True, user__email="ninjas@thinkific.com")
    body, headers = thinkific_signed(payload("thinkific_lesson_completed.json"))
    assert settled(post(thinkific.url, body, headers)[1]) == EventStatus.PROCESSED
    assert post(thinkific.url, body, headers)[1]["status"] == EventStatus.DUPLICATE
    assert ModuleProgress.objects.filter(learner=learner).count() == 1


@pytest.mark.parametrize(
    ("percentage", "completes"),
    [("1.0", False), ("24.0", False), ("99.9", False), ("100.0", True), (100, True)],
)
def test_thinkific_progress_is_a_percentage(thinkific, percentage, completes):
    learner = LearnerFactory(engineer=True, user__email="john@doe.example")
    data = payload("thinkific_enrollment_progress.json")  # verbatim: "24.0"
    data["payload"]["user"]["email"] = "john@doe.example"
    data["payload"]["percentage_completed"] = percentage
    status, answer = post(thinkific.url, *thinkific_signed(data))
    assert status == 202
    assert settled(answer) == (EventStatus.PROCESSED if completes else EventStatus.IGNORED)
    assert ModuleProgress.objects.filter(learner=learner).exists() is completes


def test_thinkific_enrollment_completed_completes_the_course_module(thinkific):
    learner = LearnerFactory(engineer=True, user__email="john@doe.example")
    data = payload("thinkific_enrollment_completed.json")
    data["payload"]["user"]["email"] = "John@Doe.example"
    assert settled(post(thinkific.url, *thinkific_signed(data))[1]) == EventStatus.PROCESSED
    assert ModuleProgress.objects.get(learner=learner).module.number == 3


def test_thinkific_signed_with_either_secret_during_a_rotation(thinkific):
    LearnerFactory(engineer=True, user__email="ninjas@thinkific.com")
    PlatformConnection.objects.filter(pk=thinkific.pk).update(
        secrets=f"new-api-key\n{THINKIFIC_API_KEY}"
    )
    data = payload("thinkific_lesson_completed.json")
    assert post(thinkific.url, *thinkific_signed(data))[0] == 202
    body = json.dumps({**data, "id": "another"}).encode()
    signed = hmac.new(b"new-api-key", body, hashlib.sha256).hexdigest()
    assert post(thinkific.url, body, {"X-Thinkific-Hmac-Sha256": signed})[0] == 202
    assert post(thinkific.url, body, {"X-Thinkific-Hmac-Sha256": "ab" * 32})[0] == 401


# Data that stays true -----------------------------------------------------------------


def test_an_82_character_address_matches_whole(thinkific):
    address = ("a" * 59) + "@" + ("b" * 17) + ".test"
    assert len(address) == 82
    learner = LearnerFactory(engineer=True, user__email=address)
    data = payload("thinkific_lesson_completed.json")
    data["payload"]["user"]["email"] = address.upper()
    assert settled(post(thinkific.url, *thinkific_signed(data))[1]) == EventStatus.PROCESSED
    assert ModuleProgress.objects.get(learner=learner).module.number == 2
    assert WebhookEvent.objects.get().email == address


# A receiver strangers can't abuse -----------------------------------------------------


def test_a_body_over_256_kb_is_refused_before_it_is_read(thinkific):
    body = b"{" + b" " * (256 * 1024) + b"}"
    status, answer = post(thinkific.url, body, {})
    assert status == 413 and answer["status"] == 413
    assert not WebhookEvent.objects.exists()
    refusal = DeliveryRefusal.objects.get()
    assert (refusal.status, refusal.size) == (413, len(body))


@pytest.mark.parametrize(
    "body", [b"not json", b"[" * 100_000 + b"]" * 100_000, b'"a string"', b"[]"]
)
def test_an_authenticated_body_we_cannot_read_is_a_400_never_a_500(teachable, body):
    status, answer = post(teachable.url, body, {})
    assert status == 400 and answer["status"] == 400
    assert WebhookEvent.objects.get().status == EventStatus.FAILED
    assert not ModuleProgress.objects.exists()


@pytest.fixture
def one_window():
    """The clock held inside one minute: refusals are counted per minute, and a test that
    crossed a minute's end would start counting again (nothing to do with speed)."""
    import time_machine

    with time_machine.travel(datetime(2026, 12, 7, 12, 0, 5, tzinfo=UTC), tick=False):
        yield


def test_a_flood_of_refused_deliveries_is_rate_limited_and_stores_almost_nothing(
    thinkific, settings, one_window
):
    """Past the per-client limit a sender is answered 429 before anything is read;
    refusals kept are capped per connection; no body is ever stored."""
    settings.WEBHOOK_REFUSALS_PER_CLIENT = 10_000  # the connection's limit first
    settings.WEBHOOK_REFUSALS_PER_CONNECTION = REFUSALS_KEPT + 50
    statuses = []
    for number in range(REFUSALS_KEPT + 80):
        big = number % 2 == 0
        body = b"x" * (300 * 1024 if big else 1024)
        statuses.append(post(thinkific.url, body, {})[0])
    assert set(statuses[: REFUSALS_KEPT + 50]) == {401, 413}
    assert set(statuses[REFUSALS_KEPT + 50 :]) == {429}
    assert not WebhookEvent.objects.exists()
    assert DeliveryRefusal.objects.count() == REFUSALS_KEPT


def test_a_client_over_its_limit_is_answered_429_with_retry_after(thinkific, settings, one_window):
    settings.WEBHOOK_REFUSALS_PER_CLIENT = 3
    answers = [post(thinkific.url, b"{}", {}) for _ in range(5)]
    assert [status for status, _ in answers] == [401, 401, 401, 429, 429]
    assert answers[-1][1]["status"] == 429
    assert DeliveryRefusal.objects.count() == 3
    request = urllib.request.Request(thinkific.url, data=b"{}", method="POST")  # noqa: S310
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310 - the live server
    # 55 seconds to the end of the minute the clock is held in.
    assert refused.value.code == 429 and refused.value.headers["Retry-After"] == "55"
    # Unknown connections count against the client too.
    assert post(thinkific.url.replace("thinkific", "nope"), b"{}", {})[0] == 429


def test_download_my_data_and_the_admin_export_for_a_platform_learner(
    thinkific, client, admin_client
):
    learner = LearnerFactory(engineer=True, user__email="ninjas@thinkific.com")
    post(thinkific.url, *thinkific_signed(payload("thinkific_lesson_completed.json")))
    assert ModuleProgress.objects.filter(learner=learner, source="platform").exists()
    client.force_login(learner.user)
    response = client.get("/profile/privacy/data/")
    assert response.status_code == 200
    mine = response.content.decode()
    data = json.loads(mine)
    events = [row for rows in _sections(data, "webhookevent") for row in rows]
    assert events and events[0]["body"]["payload"]["lesson"]["id"] == 24220
    exported = admin_client.post(
        "/admin/learners/learner/",
        {"action": "export_personal_data", "_selected_action": [learner.pk]},
    )
    assert exported.status_code == 200 and "24220" in exported.content.decode()
    # Never a connection's secret or URL token.
    assert THINKIFIC_API_KEY not in mine and thinkific.url_token not in mine


def _sections(data, model: str):
    """The export's rows of ``model`` wherever the export's shape keeps them."""
    found = []

    def walk(node, key=""):
        if isinstance(node, dict):
            for name, value in node.items():
                walk(value, name)
        elif isinstance(node, list):
            if model in key and all(isinstance(item, dict) for item in node):
                found.append(node)
            for item in node:
                walk(item, key)

    walk(data)
    return found
