"""The insights page in headless Chromium at 1280 and 390 px: no horizontal scroll, axe-core
with no serious or critical violation, and a stuck point's link opens exactly its learners.

Skipped when /usr/bin/chromium is missing. Set E2E_SCREENSHOTS to a folder to keep
screenshots of the page (desktop and phone).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from curriculum.models import Track
from curriculum.services import curriculum_load
from tests.factories import UserFactory
from tests.learners.insights.seed import seed_cohort

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]


@pytest.fixture
def site(live_server, monkeypatch):
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


def signed_in(chromium, site, user, *, width: int):
    client = Client()
    client.force_login(user)
    context = chromium.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(10_000)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": site.url,
            }
        ]
    )
    return context.new_page()


def axe_serious(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page, name: str) -> None:
    folder = os.environ.get("E2E_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_insights_page_fits_passes_axe_and_links_to_exactly_the_stuck(site, chromium, width):
    from playwright.sync_api import expect

    seeded = seed_cohort()
    instructor = UserFactory(email="teacher@example.com", is_staff=True)
    instructor.groups.add(Group.objects.get(name="Instructors"))
    page = signed_in(chromium, site, instructor, width=width)
    page.goto(f"{site.url}{reverse('admin_insights')}?track={seeded.track.pk}")
    expect(page.get_by_role("heading", name="Stuck points")).to_be_visible()
    screenshot(page, f"insights-{width}")

    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert axe_serious(page) == []

    # The most common stuck point (after module 4) lists a1 and a2, nobody else.
    page.get_by_role("table", name="Stuck points").get_by_role("link", name="2").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    assert sorted(page.locator("#result_list tbody td.field-email").all_inner_texts()) == [
        "a1@example.com",
        "a2@example.com",
    ]
