"""What every browser test shares: Debian's Chromium, the marks of a browser test, a page
signed in as a user, axe-core's serious findings and screenshots. The fixtures that use them
(``site``, ``chromium``) are in conftest.py.

Chromium comes from Debian (``apt-get install chromium``; CI installs it, see .ci/run); a
test tool's own browser download does not work on our machines. Without it, the browser
tests are skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]

# pytestmark of every browser test module. The live server needs committed data; serialized
# rollback puts the database (with the curriculum the data migration loaded) back as it was,
# for the tests that run after.
BROWSER_TEST = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]


def signed_in(chromium, site, user, *, width=1280, height=900, javascript=True, **context):
    """A new page signed in as ``user`` (the session made by Django's test client)."""
    client = Client()
    client.force_login(user)
    browser_context = chromium.new_context(
        viewport={"width": width, "height": height}, java_script_enabled=javascript, **context
    )
    browser_context.set_default_timeout(10_000)
    browser_context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": site.url,
            }
        ]
    )
    return browser_context.new_page()


def page_ready(page) -> None:
    """Wait until the page a click navigated to has run its scripts (htmx binds the page's
    buttons on load). A click before that is a plain form post: the page without
    JavaScript, which is a different path than the one a test of in-place ticks means."""
    page.wait_for_load_state("load")


def screenshot(page, name: str) -> None:
    """Keep a full-page screenshot when E2E_SCREENSHOTS names a folder."""
    folder = os.environ.get("E2E_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


# axe-core 4.14.1 (the version the issues were tried with), not the 4.12.1 that
# axe-playwright-python bundles: tests/e2e/vendor/README.md.
AXE_SCRIPT = Path(__file__).with_name("vendor").joinpath("axe-4.14.1.min.js")


def axe(page) -> dict:
    """axe-core's whole result for the page."""
    from axe_playwright_python.sync_playwright import Axe

    return Axe(axe_script=AXE_SCRIPT.read_text()).run(page).response


def axe_serious(page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    results = axe(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
