"""The progress page in headless Chromium: ticks update in place (htmx), a level-up is
announced, Undo, keyboard only, JavaScript off, a phone-sized viewport, and axe-core on every
student page and the admin dashboard.

Skipped when /usr/bin/chromium is missing (CI installs it from Debian: see .ci/run).
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from curriculum.models import Key, Module
from learners.models import KeyCompletion
from learners.services import key_set_done, learner_recompute_level, module_set_done
from tests.factories import LearnerFactory, UserFactory

from .browsers import BROWSER_TEST, axe_serious, signed_in

pytestmark = BROWSER_TEST


def _surviving_engineer(*, keys: int = 0, modules=(), pay: int = 210_000):
    """An engineer at Surviving who earns enough for the Thriving gate, with some progress."""
    learner = LearnerFactory(engineer=True, annual_compensation=pay)
    learner_recompute_level(learner=learner)
    for number in modules:
        module_set_done(learner=learner, module=Module.objects.get(number=number), done=True)
    hand = Key.objects.filter(track__slug="engineer", level__number=2, modules__isnull=True)
    for key in hand.order_by("order")[:keys]:
        key_set_done(learner=learner, key=key, done=True)
    learner.refresh_from_db()
    assert learner.level == 2
    return learner


def _open_key(learner) -> Key:
    done = KeyCompletion.objects.filter(learner=learner).values_list("key_id", flat=True)
    return (
        Key.objects.filter(track__slug="engineer", level__number=2, modules__isnull=True)
        .exclude(pk__in=list(done))
        .order_by("order")
        .first()
    )


def _mark_document(page):
    """Something only this document holds: a navigation would lose it."""
    page.evaluate("window.__sameDocument = true")


def _same_document(page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def test_a_tick_updates_the_item_meter_and_next_steps_in_place_and_undo_reverts_it(site, chromium):
    from playwright.sync_api import expect

    learner = _surviving_engineer(keys=2)
    key = _open_key(learner)
    page = signed_in(chromium, site, learner.user)
    page.goto(site.url + "/progress/")
    _mark_document(page)
    meter = page.locator("#meter-heading")
    expect(meter).to_contain_text("To Thriving: 2 of 10 keys")
    toggle = page.locator(f"#toggle-key-{key.pk}")
    expect(toggle).to_have_attribute("aria-pressed", "false")

    # Clicking the key's text (the label) toggles it.
    toggle.locator(".toggle__text").click()

    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(toggle).to_contain_text("Done")
    expect(meter).to_contain_text("To Thriving: 3 of 10 keys")
    expect(page.locator(".meter__next")).to_contain_text("tick 6 more Surviving keys")
    status = page.get_by_role("status").filter(has_text="Key ticked")
    expect(status).to_contain_text(f"Key ticked: {key.full_text}.")
    assert _same_document(page)
    assert KeyCompletion.objects.filter(learner=learner, key=key).exists()

    page.get_by_role("button", name="Undo").click()

    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(meter).to_contain_text("To Thriving: 2 of 10 keys")
    # Announced in the live region; shown with its Undo right after the key.
    expect(page.locator("#progress-status")).to_contain_text("Key unticked")
    expect(page.locator(f"#key-{key.pk} + .inline-status")).to_contain_text("Key unticked")
    assert _same_document(page)
    assert not KeyCompletion.objects.filter(learner=learner, key=key).exists()


def test_a_level_up_is_announced_in_a_live_region_with_what_opens_next(site, chromium):
    from playwright.sync_api import expect

    learner = _surviving_engineer(keys=8, modules=(4, 5, 6))
    key = _open_key(learner)
    page = signed_in(chromium, site, learner.user)
    page.goto(site.url + "/progress/")
    _mark_document(page)
    live = page.locator("#progress-status")
    expect(live).to_have_attribute("aria-live", "polite")
    expect(live).to_have_attribute("role", "status")

    page.locator(f"#toggle-key-{key.pk}").click()

    expect(live).to_contain_text("Congratulations! You moved up to level 3: Thriving.")
    expect(live).to_contain_text("Next: the Mastery stage, modules 7–9.")
    # Shown next to the key that did it, with its Undo (never over the checklist).
    expect(page.locator(".inline-status--congrats")).to_be_in_viewport()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are at level 3: Thriving")
    expect(page.locator("#meter-heading")).to_contain_text("To Driving: 0 of")
    assert _same_document(page)
    learner.refresh_from_db()
    assert learner.level == 3

    # Undo right away: back to Surviving, and the student's history shows no move down.
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are at level 2: Surviving")
    expect(page.locator(".timeline")).not_to_contain_text("Moved down")


def test_keyboard_only(site, chromium):
    from playwright.sync_api import expect

    learner = _surviving_engineer(keys=1)
    page = signed_in(chromium, site, learner.user)
    page.goto(site.url + "/progress/")
    # Tab from the top of the page to the first key that can be ticked.
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.id")
        if focused.startswith("toggle-key-") and (
            page.evaluate("document.activeElement.getAttribute('aria-pressed')") == "false"
        ):
            break
    else:
        pytest.fail("no open key reached with Tab")
    toggle = page.locator(f"#{focused}")
    name = toggle.locator(".toggle__text").inner_text()
    # The accessible name starts with the visible text.
    assert page.evaluate("document.activeElement.textContent").strip().startswith(name)

    page.keyboard.press("Space")

    expect(toggle).to_have_attribute("aria-pressed", "true")
    # Focus stays on the control that was pressed (same id after the swap).
    expect(toggle).to_be_focused()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-pressed", "false")


def test_without_javascript_a_tick_posts_redirects_and_offers_undo(site, chromium):
    from playwright.sync_api import expect

    learner = _surviving_engineer(keys=1)
    key = _open_key(learner)
    page = signed_in(chromium, site, learner.user, javascript=False)
    page.goto(site.url + "/progress/")

    with page.expect_navigation():
        page.locator(f"#toggle-key-{key.pk}").click()

    expect(page).to_have_url(re.compile(rf"/progress/\?undo=key-{key.pk}-0#key-{key.pk}$"))
    # The message and its Undo together, right after the key.
    status = page.locator(f"#key-{key.pk} + .inline-status")
    expect(status).to_contain_text(f"Key ticked: {key.full_text}.")
    expect(status.get_by_role("button", name="Undo")).to_be_visible()
    expect(page.locator(f"#toggle-key-{key.pk}")).to_have_attribute("aria-pressed", "true")
    with page.expect_navigation():
        page.get_by_role("button", name="Undo").click()
    expect(page.locator(f"#toggle-key-{key.pk}")).to_have_attribute("aria-pressed", "false")
    assert not KeyCompletion.objects.filter(learner=learner, key=key).exists()


@pytest.mark.parametrize("path", ["/progress/", "/profile/"])
def test_a_phone_sized_viewport_has_no_horizontal_scroll_and_big_enough_targets(
    site, chromium, path
):
    learner = _surviving_engineer(keys=3, modules=(4,))
    page = signed_in(chromium, site, learner.user, width=390)
    page.goto(site.url + path)

    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    small = page.evaluate(
        """() => [...document.querySelectorAll('button, a, input, select, summary')]
        .filter(el => el.offsetParent !== null)
        .map(el => { const r = (el.closest('label') || el).getBoundingClientRect();
                     return {what: el.outerHTML.slice(0, 80), w: r.width, h: r.height}; })
        .filter(r => (r.w < 24 || r.h < 24))"""
    )
    # Links inside a sentence are exempt (WCAG 2.5.8); every control must be 24x24 or more
    # (a radio button or checkbox: with its label, which toggles it).
    controls = [r for r in small if not r["what"].startswith("<a")]
    assert controls == []


def test_axe_finds_no_serious_or_critical_violation_on_student_pages_and_the_dashboard(
    site, chromium
):
    learner = _surviving_engineer(keys=3, modules=(4,))
    found = {}
    anonymous = chromium.new_context().new_page()
    for path in ("/", "/accounts/login/", "/accounts/signup/"):
        anonymous.goto(site.url + path)
        found[path] = axe_serious(anonymous)
    page = signed_in(chromium, site, learner.user)
    for path in (
        "/profile/",
        "/progress/",
        "/account/",
        "/nudges/preferences/",
        "/accounts/email/",
        "/accounts/password/change/",
        "/no-such-page/",
    ):
        page.goto(site.url + path)
        found[path] = axe_serious(page)
    # After a tick in place (the announcement and the swapped body).
    page.goto(site.url + "/progress/")
    page.locator(".checklist .toggle[aria-pressed=false]").first.click()
    page.get_by_role("button", name="Undo").wait_for()
    found["/progress/ after a tick"] = axe_serious(page)
    admin = UserFactory(email="axe-admin@example.com", is_staff=True, is_superuser=True)
    dashboard = signed_in(chromium, site, admin)
    dashboard.goto(site.url + reverse("admin:index"))
    found["admin dashboard"] = axe_serious(dashboard)

    assert {path: issues for path, issues in found.items() if issues} == {}
