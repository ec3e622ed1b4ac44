"""What each platform's webhooks look like: how they are signed and what they say.

Plain Python on the raw body and headers: ``verify`` checks the signature (in constant
time, against each of the connection's secrets) and the age of the delivery; ``read``
turns a verified body into a ``Delivery``: who completed what, when.

* **Standard Webhooks** (``standardwebhooks``): headers ``webhook-id``,
  ``webhook-timestamp`` and ``webhook-signature`` (``v1,<base64 HMAC-SHA256 of
  "id.timestamp.body">``); the library refuses timestamps more than 5 minutes away. Our
  generic body: ``{"type": "lesson.completed" | "course.completed", "timestamp": ISO,
  "data": {"email", "course_id", "lesson_id"?, "completed_at"?}}``.
* **Thinkific**: header ``X-Thinkific-Hmac-Sha256``, the hex HMAC-SHA256 of the raw body
  keyed with the app's client secret. The envelope ``{"id", "resource", "action",
  "tenant_id", "created_at", "payload"}``; topics ``lesson.completed`` (payload ``lesson``,
  ``course``, ``user``), ``enrollment.progress`` (``percentage_completed``) and
  ``enrollment.completed``. No timestamp header: the signed ``created_at`` is the time.
* **Teachable**: header ``Teachable-Signature``, the hex HMAC-SHA256 of the raw body keyed
  with the webhook's signing secret. The body ``{"id", "type", "created", "object"}``;
  ``LectureProgress.created`` (``object.lecture_id``, ``course_id``, ``user.email``) and
  ``Enrollment.completed``. The signed ``created`` is the time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook, WebhookVerificationError

TOLERANCE = timedelta(minutes=5)

STANDARD = "standard"
THINKIFIC = "thinkific"
TEACHABLE = "teachable"

THINKIFIC_SIGNATURE = "x-thinkific-hmac-sha256"
TEACHABLE_SIGNATURE = "teachable-signature"
STANDARD_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
# The headers kept with each stored event (lower-case).
KEPT_HEADERS = (
    *STANDARD_HEADERS,
    THINKIFIC_SIGNATURE,
    "x-thinkific-topic",
    TEACHABLE_SIGNATURE,
    "content-type",
    "user-agent",
)

LESSON = "lesson"
COURSE = "course"


class Rejected(Exception):
    """The delivery is not from the platform (signature) or too old or new (replay)."""


class Unreadable(Exception):
    """The delivery is signed but not a body we understand."""


@dataclass(frozen=True)
class Delivery:
    event_id: str
    topic: str
    occurred_at: datetime | None
    email: str = ""
    course_id: str = ""
    lesson_id: str = ""
    completes: str = ""  # LESSON, COURSE, or "" (nothing to record)


def kept_headers(headers: dict[str, str]) -> dict[str, str]:
    lower = {name.lower(): value for name, value in headers.items()}
    return {name: lower[name][:500] for name in KEPT_HEADERS if name in lower}


def verify(kind: str, secrets: list[str], body: bytes, headers: dict[str, str], now: datetime):
    """Raise ``Rejected`` unless one of ``secrets`` signed ``body`` and it is recent."""
    headers = {name.lower(): value for name, value in headers.items()}
    if kind == STANDARD:
        _verify_standard(secrets, body, headers, now)
        return
    header = THINKIFIC_SIGNATURE if kind == THINKIFIC else TEACHABLE_SIGNATURE
    signature = headers.get(header, "").strip().lower()
    if not signature:
        raise Rejected(f"no {header} header")
    if not any(
        hmac.compare_digest(signature, hmac.new(secret.encode(), body, hashlib.sha256).hexdigest())
        for secret in secrets
    ):
        raise Rejected("the signature does not match")
    sent = _body_time(body, "created_at" if kind == THINKIFIC else "created")
    if sent is None:
        raise Rejected("the body has no timestamp")
    _check_age(sent, now)


def _verify_standard(secrets: list[str], body: bytes, headers: dict[str, str], now: datetime):
    if not all(headers.get(name) for name in STANDARD_HEADERS):
        raise Rejected("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        sent = datetime.fromtimestamp(int(headers["webhook-timestamp"]), tz=UTC)
    except (ValueError, OverflowError, OSError) as error:
        raise Rejected("webhook-timestamp is not a Unix time") from error
    _check_age(sent, now)
    for secret in secrets:
        try:
            # The library checks against the wall clock too, with the same tolerance.
            Webhook(secret).verify(body, headers, json_parse=False)
        except (WebhookVerificationError, EmptyWebhookSecretError, ValueError):
            continue
        return
    raise Rejected("the signature does not match")


def _check_age(sent: datetime, now: datetime) -> None:
    if sent < now - TOLERANCE:
        raise Rejected(f"the timestamp {sent.isoformat()} is older than 5 minutes")
    if sent > now + TOLERANCE:
        raise Rejected(f"the timestamp {sent.isoformat()} is in the future")


def _body_time(body: bytes, field: str) -> datetime | None:
    try:
        return _time(json.loads(body).get(field))
    except (ValueError, AttributeError):
        return None


def _time(value) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(value) -> str:
    return "" if value is None or isinstance(value, dict | list) else str(value)[:64]


def read(kind: str, body: bytes, headers: dict[str, str]) -> Delivery:
    """What a verified delivery says. Raises ``Unreadable`` for a body that is not JSON or
    lacks its event id."""
    try:
        data = json.loads(body)
    except ValueError as error:
        raise Unreadable("the body is not JSON") from error
    if not isinstance(data, dict):
        raise Unreadable("the body is not a JSON object")
    headers = {name.lower(): value for name, value in headers.items()}
    if kind == STANDARD:
        return _read_standard(data, headers)
    if kind == THINKIFIC:
        return _read_thinkific(data)
    return _read_teachable(data)


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _read_standard(data: dict, headers: dict[str, str]) -> Delivery:
    topic = _text(data.get("type"))
    detail = _dict(data.get("data"))
    completes = {"lesson.completed": LESSON, "course.completed": COURSE}.get(topic, "")
    return Delivery(
        event_id=headers["webhook-id"][:255],
        topic=topic,
        occurred_at=_time(detail.get("completed_at")) or _time(data.get("timestamp")),
        email=_text(detail.get("email")).strip().lower(),
        course_id=_text(detail.get("course_id")),
        lesson_id=_text(detail.get("lesson_id")) if completes == LESSON else "",
        completes=completes,
    )


def _read_thinkific(data: dict) -> Delivery:
    event_id = _text(data.get("id"))
    if not event_id:
        raise Unreadable("the body has no id")
    topic = f"{_text(data.get('resource'))}.{_text(data.get('action'))}"
    payload = _dict(data.get("payload"))
    user = _dict(payload.get("user"))
    course = _dict(payload.get("course"))
    lesson = _dict(payload.get("lesson"))
    course_id = _text(course.get("id") or payload.get("course_id"))
    completes, lesson_id = "", ""
    if topic == "lesson.completed":
        completes, lesson_id = LESSON, _text(lesson.get("id") or payload.get("lesson_id"))
    elif topic == "enrollment.completed":
        completes = COURSE
    elif topic == "enrollment.progress" and _fraction(payload.get("percentage_completed")) >= 1:
        completes = COURSE
    return Delivery(
        event_id=event_id,
        topic=topic,
        occurred_at=_time(payload.get("completed_at")) or _time(data.get("created_at")),
        email=_text(user.get("email")).strip().lower(),
        course_id=course_id,
        lesson_id=lesson_id,
        completes=completes,
    )


def _fraction(value) -> float:
    """Thinkific's progress: a fraction (``"0.5"``, ``1.0``) or a percentage (``100``)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number / 100 if number > 1 else number


def _read_teachable(data: dict) -> Delivery:
    event_id = _text(data.get("id"))
    if not event_id:
        raise Unreadable("the body has no id")
    topic = _text(data.get("type"))
    item = _dict(data.get("object"))
    user = _dict(item.get("user"))
    course = _dict(item.get("course"))
    lecture = _dict(item.get("lecture"))
    completes, lesson_id = "", ""
    if topic == "LectureProgress.created":
        completes, lesson_id = LESSON, _text(item.get("lecture_id") or lecture.get("id"))
    elif topic == "Enrollment.completed":
        completes = COURSE
    return Delivery(
        event_id=event_id,
        topic=topic,
        occurred_at=(_time(item.get("completed_at")) or _time(item.get("created_at")))
        or _time(data.get("created")),
        email=_text(user.get("email")).strip().lower(),
        course_id=_text(item.get("course_id") or course.get("id")),
        lesson_id=lesson_id,
        completes=completes,
    )
