"""A new student's whole journey in headless Chromium, against a live server.

Skipped when /usr/bin/chromium is missing (CI installs it from Debian: see .ci/run). Set
E2E_SCREENSHOTS to a folder to keep screenshots of the progress page (desktop and phone).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.core import mail

from .browsers import BROWSER_TEST, page_ready

PASSWORD = "a-long-and-unusual-passphrase-42"

pytestmark = BROWSER_TEST


@pytest.fixture
def page(chromium):
    context = chromium.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id="Asia/Tokyo"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def _screenshots(chromium, url: str, cookies: list) -> None:
    folder = os.environ.get("E2E_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for name, width, height in (("desktop", 1280, 900), ("phone", 390, 844)):
        context = chromium.new_context(
            viewport={"width": width, "height": height}, device_scale_factor=1
        )
        context.add_cookies(cookies)
        shot = context.new_page()
        shot.goto(url)
        shot.screenshot(path=str(Path(folder) / f"progress-{name}.png"), full_page=True)
        context.close()


def test_a_new_student_signs_up_assesses_themselves_and_moves_up(site, chromium, page):
    from playwright.sync_api import expect

    # The landing page leads to signing up.
    page.goto(site.url + "/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Profit Pyramid")
    page.get_by_role("link", name="Sign up free").click()
    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Email").fill("grace@example.com")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your email address")

    # The verification link from the email; confirming takes a button press (a POST).
    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[0].body).group(0)
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your email address")
    page.get_by_role("button", name="Confirm my address").click()

    # Signed in, sent to the self-assessment; the browser's time zone is preselected.
    expect(page).to_have_url(re.compile(r"/profile/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your self-assessment")
    expect(page.get_by_label("Your time zone")).to_have_value("Asia/Tokyo")
    founder_group = page.locator("#questions-founder")
    page.get_by_label("Production-Ready AI Engineers").check()
    expect(founder_group).to_be_hidden()
    # One figure, as people say it; over the Surviving -> Thriving income gate.
    page.get_by_label("What is your current annual salary?").fill("210k")
    engineer = page.locator("#questions-engineer")
    engineer.locator("#field-can_explain_concepts").get_by_label("Yes").check()
    engineer.locator("#field-can_implement_from_scratch").get_by_label("No").check()
    engineer.locator("#field-deployed_at_scale").get_by_label("No").check()
    engineer.get_by_label("API integrator").check()
    engineer.get_by_label("I mostly use APIs").check()
    page.get_by_role("button", name="Save and see my level").click()

    # The level and its reasons.
    expect(page).to_have_url(re.compile(r"/progress/$"))
    page_ready(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("You are at level 2: Surviving")
    expect(page.locator(".why")).to_contain_text(
        "Your annual total compensation of $210,000 is in the Thriving band, but your answers "
        "hold you at Surviving"
    )
    expect(
        page.get_by_role("img", name=re.compile("you are at level 2, Surviving"))
    ).to_be_visible()

    # Modules 4-6 and Surviving keys until the level rises, each in place (htmx).
    for number in (4, 5, 6):
        page.get_by_role("button", name=re.compile(rf"^Module {number} ")).click()
        expect(page.locator("#progress-status")).to_contain_text(f"Module {number} completed")
    # The congratulation is said next to the key that did it (and announced).
    congratulation = page.locator(".inline-status--congrats")
    announced = page.locator("#progress-status")
    for _ in range(12):
        toggle = page.locator(".checklist .toggle[aria-pressed=false]").first
        toggle_id = toggle.get_attribute("id")
        before = announced.inner_text()
        toggle.click()
        # This tick's answer is in: its announcement replaced the last one (it names the key,
        # so two ticks never announce the same words), and its toggle is pressed.
        expect(announced).not_to_have_text(before)
        expect(page.locator(f"#{toggle_id}")).to_have_attribute("aria-pressed", "true")
        if "Congratulations" in announced.inner_text():
            break
    expect(congratulation).to_contain_text("Congratulations! You moved up to level 3: Thriving.")
    expect(page.get_by_role("heading", level=1)).to_have_text("You are at level 3: Thriving")
    history = page.locator(".timeline__item").first
    expect(history).to_contain_text("Moved up from Surviving to Thriving")

    _screenshots(chromium, page.url, page.context.cookies())
