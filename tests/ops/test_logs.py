"""Structured log lines: every line of a request carries its id (also the line Django writes
after the response), every line of a Celery task its task id, and no line an address."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.conf import settings
from django.http import HttpResponse, HttpResponseNotFound
from django.urls import path

from learners.privacy.tasks import retention_prune_task
from pyramid_site.logs import ContextFilter, StructuredFormatter

logger = logging.getLogger("tests.ops.logs")


def view_logging_twice(request):
    logger.info("first line, learner %s", 7)
    logging.getLogger("learners.somewhere").warning("second line from another logger")
    return HttpResponse("ok")


def view_not_found(request):
    return HttpResponseNotFound("no")


urlpatterns = [path("twice/", view_logging_twice), path("missing/", view_not_found)]


@pytest.fixture
def log_lines():
    """The console handler as settings.LOGGING configures it (its filter and formatter),
    writing to a buffer; returns a function giving the parsed lines so far."""
    handler_config = settings.LOGGING["handlers"]["console"]
    assert handler_config["filters"] == ["context"]
    assert settings.LOGGING["filters"]["context"]["()"] == "pyramid_site.logs.ContextFilter"
    assert (
        settings.LOGGING["formatters"][handler_config["formatter"]]["()"]
        == "pyramid_site.logs.StructuredFormatter"
    )
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(ContextFilter())
    handler.setFormatter(StructuredFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_every_line_of_a_request_carries_its_id(client, settings, log_lines):
    settings.ROOT_URLCONF = __name__
    first = client.get("/twice/")
    second = client.get("/twice/")
    missing = client.get("/missing/")
    after = logging.getLogger("tests.ops.logs")
    after.info("between requests")

    lines = log_lines()
    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert len(set(ids)) == 2
    mine = [line for line in lines if line["logger"] in ("tests.ops.logs", "learners.somewhere")]
    assert [(line["message"][:6], line["request_id"]) for line in mine] == [
        ("first ", ids[0]),
        ("second", ids[0]),
        ("first ", ids[1]),
        ("second", ids[1]),
        ("betwee", None),
    ]
    # Django's own "Not Found" line is written after the middleware returned.
    [not_found] = [line for line in lines if line["logger"] == "django.request"]
    assert not_found["request_id"] == missing.headers["X-Request-ID"]
    assert {"time", "level", "task_id"} <= set(mine[0]) and mine[0]["level"] == "INFO"


@pytest.mark.parametrize(
    ("given", "kept"),
    [("edge-4f1c2a9b0d", True), ('x" injected="1', False), ("a\nfake line", False), ("", False)],
)
def test_a_proxys_request_id_is_kept_only_when_it_looks_like_one(client, given, kept):
    response = client.get("/healthz", headers={"X-Request-ID": given} if given else {})
    assert (response.headers["X-Request-ID"] == given) is kept
    assert len(response.headers["X-Request-ID"]) >= 8


@pytest.mark.django_db
def test_every_line_of_a_task_carries_the_task_id(log_lines):
    result = retention_prune_task.apply()
    lines = [line for line in log_lines() if line["logger"] == "learners.privacy.services"]
    assert len(lines) == 2  # the ledger and the webhook events
    assert {line["task_id"] for line in lines} == {result.id}
    assert {line["request_id"] for line in lines} == {None}


def test_no_address_reaches_a_log_line(log_lines):
    logger.warning("refused for %s", "Someone.Person+tag@Example.co.uk")
    try:
        raise ValueError("Key (lower(email))=(someone@example.com) already exists.")
    except ValueError:
        logger.exception("event 12 failed")
    text = json.dumps(log_lines())
    assert "example" not in text.lower() and "someone" not in text.lower()
    assert "refused for <email>" in text and "(<email>) already exists" in text
