"""What each platform's webhooks look like: how they are authenticated and what they say.

Plain Python on the raw body and headers: ``verify`` authenticates a delivery (a signature
checked in constant time against each of the connection's secrets, or the URL token the
caller already checked); ``read`` turns an authenticated body into ``Delivery`` items:
who completed what, when. Each platform as its own public documentation describes it (the
fixtures in ``tests/learners/integrations/platform_payloads/`` name their sources):

* **Standard Webhooks** (standardwebhooks.com spec; the ``standardwebhooks`` library):
  headers ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (``v1,<base64
  HMAC-SHA256 of "id.timestamp.body">``); timestamps more than 5 minutes away are refused.
  Our generic body: ``{"type": "lesson.completed" | "course.completed", "timestamp": ISO,
  "data": {"email", "course_id", "lesson_id"?, "completed_at"?}}``.
* **Thinkific** (support.thinkific.dev "Using Webhooks"; developers.thinkific.com):
  header ``X-Thinkific-Hmac-Sha256``, the hex HMAC-SHA256 of the raw body keyed with the
  app's client secret (or the site's API key for webhooks made through the API). No
  timestamp in the scheme and retries can come much later, so there is no age window: the
  event ``id`` makes a retry idempotent. Envelope ``{"id", "resource", "action",
  "tenant_id", "created_at", "payload"}``; ``lesson.completed`` and
  ``enrollment.completed`` complete, ``enrollment.progress`` completes at
  ``percentage_completed`` 100 (a percentage, 0-100, often a string such as ``"24.0"``).
* **Teachable** (docs.teachable.com "Add and manage webhooks"): deliveries are not
  signed; the unguessable token in the connection's URL authenticates them. A body is one
  event object or a JSON array of them. ``{"id": <the object's id>, "type", "created",
  "hook_event_id": <the event's id>, "object": {...}}``; ``LectureProgress.created`` (a
  lecture completed: ``object.lecture_id``, ``object.course_id``, ``object.user.email``)
  and ``Enrollment.completed`` (``object.course_id`` or ``object.course.id``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook, WebhookVerificationError

TOLERANCE = timedelta(minutes=5)
# Deliveries larger than this are refused (413) before their body is read.
MAX_BODY_BYTES = 256 * 1024
# Addresses are kept whole (RFC 5321's limit on a path is 254 characters of address).
EMAIL_LENGTH = 254
ID_LENGTH = 64
EVENT_ID_LENGTH = 255

STANDARD = "standard"
THINKIFIC = "thinkific"
TEACHABLE = "teachable"

THINKIFIC_SIGNATURE = "x-thinkific-hmac-sha256"
# Teachable documents no signature; one is checked only when present and a secret is set.
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
    """The delivery is not authenticated (signature, token) or too old or new (replay)."""


class Unreadable(Exception):
    """The delivery is authenticated but not a body we understand."""


@dataclass(frozen=True)
class Delivery:
    event_id: str
    topic: str
    occurred_at: datetime | None
    email: str = ""
    course_id: str = ""
    lesson_id: str = ""
    completes: str = ""  # LESSON, COURSE, or "" (nothing to record)
    # The event's own JSON when a body held several (a Teachable array); else the body.
    raw: bytes = b""


def kept_headers(headers: dict[str, str]) -> dict[str, str]:
    lower = {name.lower(): value for name, value in headers.items()}
    return {name: _clean(lower[name])[:500] for name in KEPT_HEADERS if name in lower}


def _clean(text: str) -> str:
    """Text a database column takes: PostgreSQL refuses NUL in text and JSON."""
    return text.replace("\x00", "")


def occurred(delivery_time: datetime | None, received_at: datetime) -> datetime:
    """When a completion happened: what the platform says, but never after it reached us
    (a clock ahead, or a forged date a year away, is taken as the receipt time)."""
    if delivery_time is None or delivery_time > received_at:
        return received_at
    return delivery_time


def verify(
    kind: str,
    secrets: list[str],
    body: bytes,
    headers: dict[str, str],
    now: datetime,
    *,
    token_ok: bool = False,
) -> None:
    """Raise ``Rejected`` unless the delivery is authenticated the way ``kind`` sends.

    ``token_ok``: the request came to the connection's URL with its current (or
    still-valid previous) token; that alone authenticates Teachable, which signs nothing.
    """
    headers = {name.lower(): value for name, value in headers.items()}
    if kind == STANDARD:
        _verify_standard(secrets, body, headers, now)
    elif kind == THINKIFIC:
        _verify_hex_hmac(THINKIFIC_SIGNATURE, secrets, body, headers)
    elif kind == TEACHABLE:
        if not token_ok:
            raise Rejected("Teachable deliveries must come to the connection's URL with its token")
        if secrets and headers.get(TEACHABLE_SIGNATURE):
            _verify_hex_hmac(TEACHABLE_SIGNATURE, secrets, body, headers)
    else:
        raise Rejected(f"unknown platform kind {kind!r}")


def _verify_hex_hmac(header: str, secrets: list[str], body: bytes, headers: dict[str, str]):
    signature = headers.get(header, "").strip().lower()
    if not signature:
        raise Rejected(f"no {header} header")
    if not secrets:
        raise Rejected("no signing secret is set for this connection")
    if not any(
        hmac.compare_digest(
            signature.encode(), hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
        )
        for secret in secrets
    ):
        raise Rejected("the signature does not match")


def _verify_standard(secrets: list[str], body: bytes, headers: dict[str, str], now: datetime):
    if not all(headers.get(name) for name in STANDARD_HEADERS):
        raise Rejected("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        sent = datetime.fromtimestamp(int(headers["webhook-timestamp"]), tz=UTC)
    except (ValueError, OverflowError, OSError) as error:
        raise Rejected("webhook-timestamp is not a Unix time") from error
    if sent < now - TOLERANCE:
        raise Rejected(f"the timestamp {sent.isoformat()} is older than 5 minutes")
    if sent > now + TOLERANCE:
        raise Rejected(f"the timestamp {sent.isoformat()} is in the future")
    for secret in secrets:
        try:
            # The library checks against the wall clock too, with the same tolerance.
            Webhook(secret).verify(body, headers, json_parse=False)
        except (WebhookVerificationError, EmptyWebhookSecretError, ValueError):
            continue
        return
    raise Rejected("the signature does not match")


def _time(value) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        # In UTC: ISO 8601 allows offsets PostgreSQL refuses (+16:00 and beyond).
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _text(value, limit: int = ID_LENGTH) -> str:
    return "" if value is None or isinstance(value, dict | list) else _clean(str(value))[:limit]


def _email(value) -> str:
    """An address as sent, whole; one longer than any valid address (or holding a NUL) is
    no address."""
    text = "" if not isinstance(value, str) else value.strip().lower()
    return text if len(text) <= EMAIL_LENGTH and "\x00" not in text else ""


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def parse_json(body: bytes):
    """The body as JSON; ``Unreadable`` for anything else (including nesting too deep for
    the parser, which Python reports as a RecursionError)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:
        raise Unreadable("the body is not JSON") from error


def read(kind: str, body: bytes, headers: dict[str, str]) -> list[Delivery]:
    """What an authenticated delivery says, one ``Delivery`` per event it holds. Raises
    ``Unreadable`` for a body that is not JSON, not the platform's shape, or lacks its
    event id."""
    data = parse_json(body)
    headers = {name.lower(): value for name, value in headers.items()}
    if kind == TEACHABLE and isinstance(data, list):
        if not data:
            raise Unreadable("the body is an empty list")
        return [_read_teachable(item, json.dumps(item).encode()) for item in data]
    if not isinstance(data, dict):
        raise Unreadable("the body is not a JSON object")
    if kind == STANDARD:
        return [_read_standard(data, headers, body)]
    if kind == THINKIFIC:
        return [_read_thinkific(data, body)]
    return [_read_teachable(data, body)]


def _read_standard(data: dict, headers: dict[str, str], raw: bytes) -> Delivery:
    topic = _text(data.get("type"))
    detail = _dict(data.get("data"))
    completes = {"lesson.completed": LESSON, "course.completed": COURSE}.get(topic, "")
    return Delivery(
        event_id=headers["webhook-id"][:EVENT_ID_LENGTH],
        topic=topic,
        occurred_at=_time(detail.get("completed_at")) or _time(data.get("timestamp")),
        email=_email(detail.get("email")),
        course_id=_text(detail.get("course_id")),
        lesson_id=_text(detail.get("lesson_id")) if completes == LESSON else "",
        completes=completes,
        raw=raw,
    )


def _read_thinkific(data: dict, raw: bytes) -> Delivery:
    event_id = _text(data.get("id"), EVENT_ID_LENGTH)
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
    elif (
        topic == "enrollment.progress"
        and thinkific_percentage(payload.get("percentage_completed")) >= 100
    ):
        completes = COURSE
    return Delivery(
        event_id=event_id,
        topic=topic,
        occurred_at=_time(payload.get("completed_at")) or _time(data.get("created_at")),
        email=_email(user.get("email") or payload.get("email")),
        course_id=course_id,
        lesson_id=lesson_id,
        completes=completes,
        raw=raw,
    )


def thinkific_percentage(value) -> float:
    """Thinkific's ``percentage_completed``: a percentage from 0 to 100 (``"24.0"``,
    ``100.0``); anything unreadable is 0."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if 0 <= number <= 100 else 0.0


def _read_teachable(data, raw: bytes) -> Delivery:
    if not isinstance(data, dict):
        raise Unreadable("an element of the body is not a JSON object")
    topic = _text(data.get("type"))
    item = _dict(data.get("object"))
    user = _dict(item.get("user"))
    course = _dict(item.get("course"))
    lecture = _dict(item.get("lecture"))
    created = _text(data.get("created"))
    # ``id`` is the object's (the enrollment's, the lecture progress's); the event's own id
    # is ``hook_event_id``. Without it: the type, the object and the time together.
    event_id = _text(data.get("hook_event_id"), EVENT_ID_LENGTH)
    if not event_id:
        object_id = _text(data.get("id") or item.get("id"))
        if not (topic and object_id):
            raise Unreadable("the event has neither hook_event_id nor a type and an id")
        event_id = f"{topic}:{object_id}:{created}"[:EVENT_ID_LENGTH]
    completes, lesson_id = "", ""
    if topic == "LectureProgress.created":
        completes, lesson_id = LESSON, _text(item.get("lecture_id") or lecture.get("id"))
    elif topic == "Enrollment.completed":
        completes = COURSE
    return Delivery(
        event_id=event_id,
        topic=topic,
        occurred_at=_time(item.get("completed_at"))
        or _time(item.get("created_at"))
        or _time(data.get("created")),
        email=_email(user.get("email") or item.get("email")),
        course_id=_text(item.get("course_id") or course.get("id")),
        lesson_id=lesson_id,
        completes=completes,
        raw=raw,
    )
