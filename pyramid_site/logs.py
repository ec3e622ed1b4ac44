"""Structured logs: one JSON object per line, each line of a request carrying that request's
id and each line of a Celery task its task id, and no email address on any line.

Plain ``logging`` (a middleware, a filter, a formatter; ``settings.LOGGING`` wires them to
the console handler) rather than structlog: the project's log calls stay as they are, and
Celery's worker logs through the same handler (``CELERY_WORKER_HIJACK_ROOT_LOGGER = False``).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
# An id the proxy in front set is kept (one id from the edge to the logs), if it looks like
# one: anything else in the header could forge log content.
_VALID_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# Logs name people by id only; an address that reaches a log line anyway (an exception's
# text, a library's message) is replaced.
# Letters of any script (\w): internationalised addresses (RFC 6531) such as max@müller.de.
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
REDACTED = "<email>"

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class RequestIdMiddleware:
    """Gives each request an id (the proxy's ``X-Request-ID`` when valid, else a new one),
    sets it for every log line the request writes, and returns it in ``X-Request-ID``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        current = given if _VALID_ID.fullmatch(given) else uuid.uuid4().hex
        request.request_id = current
        # Cleared when the response is finished (``request_finished_clear``), not here:
        # Django logs a 4xx/5xx response ("Not Found: ...") after the middleware returns.
        request_id.set(current)
        response = self.get_response(request)
        response.headers[REQUEST_ID_HEADER] = current
        return response


def request_finished_clear(**kwargs) -> None:
    """Connected to ``request_finished`` (``PyramidSiteConfig.ready``)."""
    request_id.set(None)


def current_task_id() -> str | None:
    from celery import current_task

    # A proxy to the task running in this thread: false outside one (eager tasks included).
    return current_task.request.id if current_task else None


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``task_id`` (None outside a request or a task) to records."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.task_id = current_task_id()
        return True


def redact(text: str) -> str:
    return _EMAIL.sub(REDACTED, text)


class StructuredFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "request_id", "task_id"[, "exception"]}``,
    one line, email addresses replaced."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None),
            "task_id": getattr(record, "task_id", None),
        }
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        elif record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, default=str)
