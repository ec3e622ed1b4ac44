"""The Standard Webhooks receiver as the OpenAPI document describes it (OpenAPI 3.1
``webhooks``; listed in ``SPECTACULAR_SETTINGS["WEBHOOKS"]``), so that an integrator sending
completions from their own course site learns the body, the headers and the answers from
``/api/schema/`` and ``/api/docs/`` without reading code.

What the receiver accepts is ``platforms.py`` (the Standard kind); the signature scheme is
the Standard Webhooks specification (standardwebhooks.com, spec v1.0.0: ``webhook-id``,
``webhook-timestamp``, ``webhook-signature``; payload ``{"type", "timestamp", "data"}``).
"""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    OpenApiWebhook,
    extend_schema,
)
from rest_framework import serializers

from ..models import EventStatus
from ..platforms import TOLERANCE
from .problems import CONTENT_TYPE, ProblemSerializer

WEBHOOK_URL = "https://<this site>/webhooks/<connection>/"
TOLERANCE_MINUTES = int(TOLERANCE.total_seconds() // 60)

EMAIL_HELP = (
    "The learner's email address, as on their account here (matched whole, case does not "
    "matter). An address with no account yet is kept and applied when the learner signs up."
)
COURSE_HELP = (
    "Your course's id (text; a number is read as its digits). Map it to a module on the "
    "connection's page in the admin."
)
COMPLETED_AT_HELP = (
    "When the learner completed it (ISO 8601 with a time zone). Absent: the event's `timestamp`."
)


class LessonCompletedData(serializers.Serializer):
    email = serializers.EmailField(max_length=254, help_text=EMAIL_HELP)
    course_id = serializers.CharField(max_length=64, help_text=COURSE_HELP)
    lesson_id = serializers.CharField(
        max_length=64,
        help_text="Your lesson's id within the course; mapped with its course to a module.",
    )
    completed_at = serializers.DateTimeField(required=False, help_text=COMPLETED_AT_HELP)


class CourseCompletedData(serializers.Serializer):
    email = serializers.EmailField(max_length=254, help_text=EMAIL_HELP)
    course_id = serializers.CharField(max_length=64, help_text=COURSE_HELP)
    completed_at = serializers.DateTimeField(required=False, help_text=COMPLETED_AT_HELP)


class _Event(serializers.Serializer):
    timestamp = serializers.DateTimeField(
        help_text="When the event happened (ISO 8601), as the Standard Webhooks payload has it."
    )


class LessonCompletedEventSerializer(_Event):
    """A learner completed a lesson on your course site: the module it is mapped to is
    marked completed (source "platform")."""

    type = serializers.ChoiceField(choices=["lesson.completed"])
    data = LessonCompletedData()


class CourseCompletedEventSerializer(_Event):
    """A learner completed a whole course: the module the course is mapped to (a mapping
    without a lesson id) is marked completed."""

    type = serializers.ChoiceField(choices=["course.completed"])
    data = CourseCompletedData()


class StoredEventSerializer(serializers.Serializer):
    event = serializers.IntegerField(help_text="The stored event's number (see the admin).")
    status = serializers.ChoiceField(
        choices=[EventStatus.RECEIVED.value, EventStatus.DUPLICATE.value],
        help_text=(
            "`received`: stored, to be applied; `duplicate`: this `webhook-id` was received "
            "before and is not applied twice."
        ),
    )


class WebhookReceivedSerializer(StoredEventSerializer):
    """The delivery is stored; a worker applies it in the background."""

    events = StoredEventSerializer(
        many=True,
        required=False,
        help_text="Every event the delivery held (a Standard Webhooks delivery holds one).",
    )


# The signature headers, added to each webhook's operation by ``schema.document_webhooks``
# (drf-spectacular's webhooks take a body and answers, not parameters).
HEADERS = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "maxLength": 255},
        "description": (
            "The message's unique id, the same on every retry of it: each id is applied "
            "once (a repeat is answered 202 `duplicate`)."
        ),
        "example": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
        "description": (
            "When the message was sent, in whole seconds since the Unix epoch. More than "
            f"{TOLERANCE_MINUTES} minutes from our clock, either way, is refused (401): "
            "sign each attempt, retries included, when you send it."
        ),
        "example": "1767225600",
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": (
            "Space-separated signatures `v1,<base64>`, one of which must match: the "
            "base64 of the HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<raw body>`, "
            "keyed with the base64-decoded part of the connection's secret after `whsec_`. "
            "A connection may hold several secrets during a rotation; any one of them signs."
        ),
        "example": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
    },
]

DESCRIPTION = (
    f"POST it to the connection's webhook URL, `{WEBHOOK_URL}…`, exactly as the "
    "connection's page in the admin shows it (with the signing secret to give your sender), with "
    "`Content-Type: application/json` and the three Standard Webhooks headers. The answer "
    "comes at once; a worker applies the event afterwards. Event types other than "
    "`lesson.completed` and `course.completed` are answered 202 and ignored."
)


def _answers() -> dict:
    refused = {
        400: (
            "Signed, but not a body the receiver reads (not JSON, or nested too deeply); "
            "kept for the admin, not applied."
        ),
        401: (
            "Not signed with the connection's secret, a header missing, or "
            f"`webhook-timestamp` more than {TOLERANCE_MINUTES} minutes away; the body is "
            "not stored. Fix the signing, then send again (a new timestamp and signature)."
        ),
        404: "No active connection has this URL.",
        413: "The body is over 256 KB; refused before it is read.",
        429: (
            "Too many refused deliveries from this client or to this connection; answered "
            "without reading the body. Retry after `Retry-After` seconds."
        ),
    }
    return {
        202: OpenApiResponse(WebhookReceivedSerializer, description="Stored; applied shortly."),
        **{
            (code, CONTENT_TYPE): OpenApiResponse(ProblemSerializer, description=text)
            for code, text in refused.items()
        },
    }


RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    description="Seconds to wait before sending again (RFC 9110).",
    response=[429],
    required=True,
)


def _example(kind: str, data: dict) -> OpenApiExample:
    return OpenApiExample(
        kind,
        value={"type": kind, "timestamp": "2026-01-01T09:30:00Z", "data": data},
    )


LESSON_COMPLETED = OpenApiWebhook(
    name="lesson.completed",
    decorator=extend_schema(
        summary="Standard Webhooks: a learner completed a lesson",
        description=DESCRIPTION,
        request=LessonCompletedEventSerializer,
        parameters=[RETRY_AFTER],
        responses=_answers(),
        examples=[
            _example(
                "lesson.completed",
                {
                    "email": "ada@example.com",
                    "course_id": "frontier-ai",
                    "lesson_id": "mla-from-scratch",
                    "completed_at": "2026-01-01T09:29:41Z",
                },
            )
        ],
    ),
)

COURSE_COMPLETED = OpenApiWebhook(
    name="course.completed",
    decorator=extend_schema(
        summary="Standard Webhooks: a learner completed a course",
        description=DESCRIPTION,
        request=CourseCompletedEventSerializer,
        parameters=[RETRY_AFTER],
        responses=_answers(),
        examples=[
            _example("course.completed", {"email": "ada@example.com", "course_id": "frontier-ai"})
        ],
    ),
)

WEBHOOKS = (LESSON_COMPLETED, COURSE_COMPLETED)
