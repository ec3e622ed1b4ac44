"""Fixtures of the browser tests: the live server with the curriculum, and Chromium."""

from __future__ import annotations

import pytest

from curriculum.models import Track
from curriculum.services import curriculum_load

from .browsers import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def site(live_server, monkeypatch):
    """The live server with the curriculum in its database.

    A transactional test without serialized rollback (run before this one) empties the
    database; load the curriculum again in that case (idempotent).
    """
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not Track.objects.exists():
        curriculum_load()
    return live_server


@pytest.fixture
def chromium(site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
