"""Errors as RFC 9457 problem details (``application/problem+json``)."""

from __future__ import annotations

from http import HTTPStatus

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers
from rest_framework.views import exception_handler

PROBLEM_TYPE = "about:blank"
CONTENT_TYPE = "application/problem+json"


def problem(status: int, detail: str, *, instance: str = "", errors: dict | None = None) -> dict:
    """The body; the one place it is built (the API's handler and 404, the webhook
    receiver, and the middleware that refuses hostile input before any view runs)."""
    body = {
        "type": PROBLEM_TYPE,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return body


def problem_response(
    status: int, detail: str, *, instance: str = "", errors: dict | None = None
) -> JsonResponse:
    return JsonResponse(
        problem(status, detail, instance=instance, errors=errors),
        status=status,
        content_type=CONTENT_TYPE,
    )


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details; ``errors`` holds the invalid fields' messages."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField(required=False)
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


def _field_errors(data, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure flattened to ``{"field": ["message", ...]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(data, dict):
        for name, value in data.items():
            key = f"{prefix}.{name}" if prefix else str(name)
            flat.update(_field_errors(value, key))
    elif isinstance(data, list):
        if all(not isinstance(item, dict | list) for item in data):
            flat[prefix or "body"] = [str(item) for item in data]
        else:
            for index, item in enumerate(data):
                flat.update(_field_errors(item, f"{prefix}[{index}]"))
    else:
        flat[prefix or "body"] = [str(data)]
    return flat


def problem_exception_handler(exc, context):
    """DRF's handler, its answer reshaped as problem details (headers such as
    ``WWW-Authenticate`` and ``Retry-After`` kept)."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    request = context.get("request")
    instance = request.get_full_path() if request is not None else ""
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(response.data)
        body = problem(
            response.status_code, "The request is not valid.", instance=instance, errors=errors
        )
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        body = problem(response.status_code, str(detail), instance=instance)
    response.data = body
    response.content_type = CONTENT_TYPE
    return response


@csrf_exempt  # answers every method with a 404, writes nothing
def not_found(request, *args, **kwargs) -> JsonResponse:
    """Any other address under /api/: a problem, never an HTML page."""
    return problem_response(404, "There is no such API endpoint.", instance=request.get_full_path())
