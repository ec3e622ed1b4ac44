"""Errors as RFC 9457 problem details (``application/problem+json``): the one place their
body and response are built, for the API's handler, its 404 and the middleware that refuses
hostile input before any view runs."""

from __future__ import annotations

from http import HTTPStatus

from django.http import JsonResponse

PROBLEM_TYPE = "about:blank"
CONTENT_TYPE = "application/problem+json"


def problem(status: int, detail: str, *, instance: str = "", errors: dict | None = None) -> dict:
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
