"""The time zones of the self-assessment: common ones first, no Factory, localtime or
deprecated aliases, a stored alias still shown, and the browser's zone selected (issue 11,
part 4)."""

from __future__ import annotations

import re
import zoneinfo
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from learners import timezones
from learners.forms import SelfAssessmentForm
from learners.models import validate_timezone
from tests.factories import ENGINEER_ANSWERS, LearnerFactory

NEVER_OFFERED = (
    "Factory",
    "localtime",
    "posixrules",
    "US/Eastern",
    "Asia/Calcutta",
    "Europe/Kiev",
    "Etc/UTC",
    "Etc/GMT+5",
    "GMT",
    "Zulu",
)


@pytest.fixture
def without_zone_tab(monkeypatch):
    """A system whose tz database has no zone.tab: the list comes from the links."""
    read = timezones._tz_file
    monkeypatch.setattr(
        timezones, "_tz_file", lambda name: None if name == "zone.tab" else read(name)
    )
    timezones.selectable_timezones.cache_clear()
    timezones.timezone_aliases.cache_clear()
    yield
    timezones.selectable_timezones.cache_clear()
    timezones.timezone_aliases.cache_clear()


@pytest.mark.parametrize("source", ["zone.tab", "links"])
def test_the_list_holds_area_location_names_and_utc_and_no_alias(request, source):
    if source == "links":
        request.getfixturevalue("without_zone_tab")
    zones = timezones.selectable_timezones()

    assert len(zones) > 300
    assert {"UTC", "Europe/Paris", "Asia/Kolkata", "America/Argentina/Buenos_Aires"} <= set(zones)
    assert not set(NEVER_OFFERED) & set(zones)
    assert set(zones) <= zoneinfo.available_timezones()
    assert all(zone == "UTC" or zone.split("/")[0] in timezones.AREAS for zone in zones)


def test_an_alias_stands_for_an_offered_zone():
    aliases = timezones.timezone_aliases()

    assert aliases["Asia/Calcutta"] == "Asia/Kolkata"
    assert aliases["US/Eastern"] == "America/New_York"
    assert aliases["Europe/Kiev"] == "Europe/Kyiv"
    assert aliases["Etc/UTC"] == "UTC"
    assert set(aliases.values()) <= set(timezones.selectable_timezones())
    assert not aliases.keys() & set(timezones.selectable_timezones())


def _options(html: str) -> list[tuple[str, str]]:
    """(optgroup label, option value) in page order."""
    found, group = [], None
    for tag in re.finditer(r'<optgroup label="([^"]*)"|<option value="([^"]*)"', html):
        if tag.group(1) is not None:
            group = tag.group(1)
        else:
            found.append((group, tag.group(2)))
    return found


@pytest.mark.django_db
def test_the_form_offers_common_zones_first_then_the_rest(client):
    learner = LearnerFactory()
    client.force_login(learner.user)

    page = client.get(reverse("profile")).text
    select = re.search(r'(?s)<select name="timezone".*?</select>', page).group(0)
    options = _options(select)

    assert options[0] == ("Common time zones", "UTC")
    groups = [group for group, _ in options]
    assert groups.index("All time zones") == len(timezones.COMMON_TIMEZONES)
    values = [value for _, value in options]
    assert len(values) == len(set(values))
    assert not set(NEVER_OFFERED) & set(values)
    assert ">America/New York</option>" in select  # names read as place names
    assert "data-timezone-aliases=" in select


@pytest.mark.django_db
def test_a_learner_whose_zone_is_an_alias_still_sees_it_selected_and_keeps_it(client):
    learner = LearnerFactory(engineer=True, timezone="US/Eastern")
    client.force_login(learner.user)

    page = client.get(reverse("profile")).text

    assert '<optgroup label="Your current setting">' in page
    assert re.search(
        r'<option value="US/Eastern" selected>US/Eastern \(now America/New York\)', page
    )
    response = client.post(reverse("profile"), {**ENGINEER_ANSWERS, "timezone": "US/Eastern"})
    assert response.status_code == 302
    learner.refresh_from_db()
    assert learner.timezone == "US/Eastern"


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["Factory", "localtime", "Asia/Calcutta", "Mars/Olympus"])
def test_a_zone_not_offered_is_refused_with_a_clear_message_and_nothing_changes(zone):
    learner = LearnerFactory(engineer=True, timezone="Europe/Paris")
    form = SelfAssessmentForm.for_learner(learner, data={**ENGINEER_ANSWERS, "timezone": zone})

    assert not form.is_valid()
    assert form.errors["timezone"] == [
        f"“{zone}” is not a known time zone. Choose one from the list."
    ]


def test_stored_values_stay_permissive():
    # Roster imports and the admin accept any zone the system knows, aliases included.
    validate_timezone("US/Eastern")
    validate_timezone("Asia/Calcutta")
    with pytest.raises(ValidationError):
        validate_timezone("Mars/Olympus")


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}")
@pytest.mark.parametrize(
    ("browser_zone", "selected"),
    [
        ("Europe/Paris", "Europe/Paris"),
        ("Asia/Calcutta", "Asia/Kolkata"),
        ("Asia/Kolkata", "Asia/Kolkata"),  # Chromium reports Asia/Calcutta
        ("UTC", "UTC"),
    ],
)
def test_the_browser_selects_its_zone_mapping_an_alias(
    live_server, client, monkeypatch, browser_zone, selected
):
    from playwright.sync_api import sync_playwright

    from curriculum.models import Track
    from curriculum.services import curriculum_load

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not Track.objects.exists():
        curriculum_load()
    learner = LearnerFactory()  # no self-assessment yet: the page detects the zone
    client.force_login(learner.user)
    cookie = client.cookies["sessionid"].value

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(timezone_id=browser_zone)
        context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])
        page = context.new_page()
        page.goto(live_server.url + reverse("profile"))
        reported = page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
        value = page.eval_on_selector("select[name=timezone]", "select => select.value")
        browser.close()

    # Chromium reports some zones by their old name (Asia/Kolkata as Asia/Calcutta).
    assert reported == browser_zone or timezones.timezone_aliases()[reported] == selected
    assert value == selected
