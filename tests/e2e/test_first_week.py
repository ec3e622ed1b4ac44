"""A student's first week in headless Chromium, desktop and phone (issue 19): the first
self-assessment sends one email naming where they start (no congratulation) and a real
level-up the same day; an invitation ends signed in; Continue names a module of their own
stage or none; preferences after "stop all"; Undo by keyboard; axe on the new pages.

E2E_SCREENSHOTS: a folder to keep screenshots of every page this issue changed.
"""

from __future__ import annotations

import os
import re
from datetime import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from curriculum.models import Key, Module
from learners.nudges.content import unsubscribe_token
from learners.nudges.models import NudgeBudget
from learners.roster import roster_import
from learners.services import key_set_done, learner_recompute_level, module_set_done
from tests.factories import LearnerFactory
from tests.learners.test_roster import engineer, roster

from .browsers import BROWSER_TEST, axe_serious, page_ready, signed_in

PASSWORD = "a-long-and-unusual-passphrase-42"
VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}

pytestmark = BROWSER_TEST


@pytest.fixture
def site(site):
    # No quiet hours: the emails of this test go out whatever the hour it runs at.
    NudgeBudget.objects.update_or_create(
        pk=1, defaults={"weekly_cap": 2, "quiet_start": time(0), "quiet_end": time(0)}
    )
    return site


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request):
    return request.param


def _context(chromium, viewport: str, *, javascript: bool = True):
    width, height = VIEWPORTS[viewport]
    context = chromium.new_context(
        viewport={"width": width, "height": height}, java_script_enabled=javascript
    )
    context.set_default_timeout(10_000)
    return context


def _signed_in(chromium, site, user, viewport: str, *, javascript: bool = True):
    width, height = VIEWPORTS[viewport]
    return signed_in(chromium, site, user, width=width, height=height, javascript=javascript)


def _shot(page, name: str, viewport: str) -> None:
    folder = os.environ.get("E2E_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}-{viewport}.png"), full_page=True)


def _verified(learner):
    EmailAddress.objects.create(
        user=learner.user, email=learner.user.email, verified=True, primary=True
    )
    return learner


def test_first_self_assessment_one_email_naming_the_start_then_a_level_up_the_same_day(
    site, chromium, viewport
):
    from playwright.sync_api import expect

    learner = _verified(LearnerFactory(user__first_name="Grace"))
    page = _signed_in(chromium, site, learner.user, viewport)
    page.goto(site.url + "/profile/")
    page.get_by_label("Production-Ready AI Engineers").check()
    page.get_by_label("What is your current annual salary?").fill("210k")
    questions = page.locator("#questions-engineer")
    questions.locator("#field-can_explain_concepts").get_by_label("Yes").check()
    questions.locator("#field-can_implement_from_scratch").get_by_label("No").check()
    questions.locator("#field-deployed_at_scale").get_by_label("No").check()
    questions.get_by_label("API integrator").check()
    questions.get_by_label("I mostly use APIs").check()
    page.get_by_role("button", name="Save and see my level").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are at level 2: Surviving")
    # History: where they started, not a move.
    expect(page.locator(".timeline__item").first).to_contain_text("You started at Surviving")
    expect(page.locator(".timeline")).not_to_contain_text("Moved up")

    # Exactly one email: where they start and why; no congratulation.
    (first,) = mail.outbox
    assert first.subject == "Grace, you start at Level 2: Surviving"
    body = first.body + first.alternatives[0][0]
    assert "Congratulations" not in body and "moved up" not in body.lower()
    assert "Why Surviving" in body

    # The same day, the Surviving work done: the last key, ticked on the page, moves them up.
    learner.refresh_from_db()
    for number in (4, 5, 6):
        module_set_done(learner=learner, module=Module.objects.get(number=number), done=True)
    hand = Key.objects.filter(track__slug="engineer", level__number=2, modules__isnull=True)
    for key in hand.order_by("order")[:8]:
        key_set_done(learner=learner, key=key, done=True)
    learner.refresh_from_db()
    assert learner.level == 2
    page.goto(site.url + "/progress/")
    last = hand.order_by("order")[8]
    page.locator(f"#toggle-key-{last.pk}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are at level 3: Thriving")
    expect(page.locator(".inline-status--congrats")).to_contain_text("Congratulations!")
    assert [m.subject for m in mail.outbox] == [first.subject, "You reached Level 3: Thriving"]
    _shot(page, "progress-after-level-up", viewport)


def test_an_invitation_ends_signed_in_on_the_students_page(site, chromium, viewport):
    from playwright.sync_api import expect

    blank = {
        name: ""
        for name in (
            "annual_compensation",
            "can_explain_concepts",
            "can_implement_from_scratch",
            "deployed_at_scale",
            "seen_as",
            "leads_initiatives",
        )
    }
    roster_import(roster(engineer(completed_keys="", **blank)), invite=True)
    (invitation,) = mail.outbox
    link = re.search(r"https?://\S+/accounts/password/reset/key/\S+/", invitation.body).group(0)
    page = _context(chromium, viewport).new_page()
    page.goto(site.url + urlsplit(link).path)
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose your password")
    # They have an account: the header offers "Sign in", never "Sign up".
    expect(page.get_by_role("link", name="Sign up")).to_have_count(0)
    _shot(page, "choose-password", viewport)
    found = {"choose your password": axe_serious(page)}
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_role("button", name="Save my password and sign in").click()
    # Signed in, on the self-assessment that places them; no "Sign up" in the header.
    expect(page).to_have_url(re.compile(r"/profile/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your self-assessment")
    expect(page.get_by_role("link", name="Sign out")).to_be_visible()
    expect(page.get_by_role("link", name="Sign up")).to_have_count(0)
    found["self-assessment after the invitation"] = axe_serious(page)
    # The link again, once used: it says so and how to get a new one, in the site's layout.
    stale = _context(chromium, viewport).new_page()
    stale.goto(site.url + urlsplit(link).path)
    expect(stale.get_by_role("heading", level=1)).to_have_text("Link no longer valid")
    expect(stale.get_by_role("link", name="Sign up")).to_have_count(0)
    _shot(stale, "invitation-used", viewport)
    found["invitation link used"] = axe_serious(stale)
    assert {name: issues for name, issues in found.items() if issues} == {}


def test_continue_for_a_learner_who_finished_her_stage_names_her_own_stage_or_none(
    site, chromium, viewport
):
    from playwright.sync_api import expect

    # At Surviving with every Surviving module and key done, held only by the $200K gate.
    learner = _verified(LearnerFactory(engineer=True, annual_compensation=160_000))
    learner_recompute_level(learner=learner)
    for number in (4, 5, 6):
        module_set_done(learner=learner, module=Module.objects.get(number=number), done=True)
    for key in Key.objects.filter(track__slug="engineer", level__number=2, modules__isnull=True):
        key_set_done(learner=learner, key=key, done=True)
    learner.refresh_from_db()
    assert learner.level == 2
    page = _signed_in(chromium, site, learner.user, viewport)
    page.goto(site.url + "/progress/")
    go = page.locator("a.continue")
    # No module of a review stage (1-3): the figure is what moves her now.
    expect(go).to_have_text("Update your figure when it changes →")
    expect(go).to_have_attribute("href", "/profile/")
    # The meter shows the unmet gate: never full.
    meter = page.locator("progress.meter")
    assert int(meter.get_attribute("value")) < int(meter.get_attribute("max"))
    expect(page.locator("#meter-heading")).to_contain_text("not yet reached")
    _shot(page, "progress-gate-only", viewport)

    # A learner with a module of her own stage open: Continue is that module, at its URL.
    Module.objects.filter(number=5).update(course_url="https://learn.example.com/module-5/")
    from curriculum.selectors import curriculum_rules_forget

    curriculum_rules_forget()
    other = _verified(LearnerFactory(engineer=True, annual_compensation=210_000))
    learner_recompute_level(learner=other)
    module_set_done(learner=other, module=Module.objects.get(number=4), done=True)
    page = _signed_in(chromium, site, other.user, viewport)
    page.goto(site.url + "/progress/")
    go = page.locator("a.continue")
    expect(go).to_contain_text("Continue Module 5")
    expect(go).to_have_attribute("href", "https://learn.example.com/module-5/")


def test_preferences_after_unsubscribing_agree_with_it(site, chromium, viewport):
    from playwright.sync_api import expect

    learner = _verified(LearnerFactory(engineer=True))
    page = _signed_in(chromium, site, learner.user, viewport)
    page.goto(site.url + f"/nudges/unsubscribe/{unsubscribe_token(learner.pk)}/")
    page.get_by_role("button").filter(has_text=re.compile("[Ss]top|[Uu]nsubscribe")).click()
    page.goto(site.url + "/nudges/preferences/")
    expect(page.get_by_text("All nudges are off")).to_be_visible()
    expect(page.get_by_label("Turn all nudges off")).to_be_checked()
    expect(page.get_by_label("Next step")).not_to_be_checked()
    expect(page.get_by_label("Level up")).not_to_be_checked()
    # One-time kinds are not offered.
    expect(page.get_by_label("Welcome")).to_have_count(0)
    expect(page.get_by_label("Where you start")).to_have_count(0)
    _shot(page, "preferences-after-stop-all", viewport)
    page.get_by_label("Turn all nudges off").uncheck()
    page.get_by_label("Level up").check()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_text("Your choices are saved.")).to_be_visible()
    expect(page.get_by_label("Level up")).to_be_checked()
    expect(page.get_by_label("Turn all nudges off")).not_to_be_checked()


def _on_the_progress_page_with_a_key_to_tick(site, chromium, viewport):
    """A Surviving engineer's progress page, and the first key of theirs to tick by hand."""
    learner = LearnerFactory(engineer=True, annual_compensation=210_000)
    learner_recompute_level(learner=learner)
    key = (
        Key.objects.filter(track__slug="engineer", level__number=2, modules__isnull=True)
        .order_by("order")
        .first()
    )
    page = _signed_in(chromium, site, learner.user, viewport)
    page.goto(site.url + "/progress/")
    return page, key


def test_undo_by_keyboard_is_the_next_tab_stop_and_gives_the_focus_back(site, chromium, viewport):
    from playwright.sync_api import expect

    page, key = _on_the_progress_page_with_a_key_to_tick(site, chromium, viewport)
    toggle = page.locator(f"#toggle-key-{key.pk}")
    toggle.focus()
    page.keyboard.press("Space")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(toggle).to_be_focused()
    page.keyboard.press("Tab")
    undo = page.get_by_role("button", name="Undo")
    expect(undo).to_be_focused()
    # The status sits right after the key, not over the checklist.
    box = page.locator(".inline-status").bounding_box()
    item = page.locator(f"#key-{key.pk}").bounding_box()
    assert box["y"] >= item["y"] + item["height"] - 1
    _shot(page, "progress-undo", viewport)
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(toggle).to_be_focused()


def test_a_keyboard_user_who_tabs_on_before_the_swap_settles_keeps_their_place(
    site, chromium, viewport
):
    """htmx settles a swap a moment after it (20 ms by default, 400 ms here to make the
    moment certain): the page's script must not pull the focus back to the toggle from the
    Undo a quick keyboard user already tabbed to (it did, one run in a few)."""
    from playwright.sync_api import expect

    page, key = _on_the_progress_page_with_a_key_to_tick(site, chromium, viewport)
    page_ready(page)
    page.evaluate("htmx.config.defaultSettleDelay = 400")
    page.evaluate(
        "document.body.addEventListener('htmx:afterSettle', () => "
        "document.body.setAttribute('data-settled', 'yes'))"
    )
    toggle = page.locator(f"#toggle-key-{key.pk}")
    toggle.focus()
    page.keyboard.press("Space")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Tab")
    undo = page.get_by_role("button", name="Undo")
    expect(undo).to_be_focused()
    # The settle and its focus handling ran (an auto-waiting check: no eval under the CSP).
    expect(page.locator("body")).to_have_attribute("data-settled", "yes")
    expect(undo).to_be_focused()


def test_the_new_pages_screenshots_and_axe(site, chromium, viewport):
    learner = _verified(LearnerFactory(engineer=True, user__first_name="Ada"))
    learner_recompute_level(learner=learner)
    page = _signed_in(chromium, site, learner.user, viewport)
    found = {}
    for name, path in (
        ("account", "/account/"),
        ("preferences", "/nudges/preferences/"),
        ("not-found", "/no-such-page/"),
        ("progress", "/progress/"),
        ("email", "/accounts/email/"),
    ):
        page.goto(site.url + path)
        _shot(page, name, viewport)
        found[path] = axe_serious(page)
    anonymous = _context(chromium, viewport).new_page()
    anonymous.goto(site.url + "/accounts/signup/")
    _shot(anonymous, "signup", viewport)
    found["/accounts/signup/"] = axe_serious(anonymous)
    assert {path: issues for path, issues in found.items() if issues} == {}
