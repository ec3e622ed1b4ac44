"""The insights page in headless Chromium at 1280 and 390 px: no horizontal scroll, axe-core
with no serious or critical violation, and a stuck point's link opens exactly its learners.

Skipped when /usr/bin/chromium is missing. Set E2E_SCREENSHOTS to a folder to keep
screenshots of the page (desktop and phone).
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from tests.factories import UserFactory
from tests.learners.insights.seed import seed_cohort

from .browsers import BROWSER_TEST, axe_serious, screenshot, signed_in

pytestmark = BROWSER_TEST


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
