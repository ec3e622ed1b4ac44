"""axe-core on every admin page of the access table (tests/security/test_access.py), as the
superuser, who may open them all: no serious or critical violation. The dashboard, the
insights page and the lift report also fit a 390 px phone.

Skipped when /usr/bin/chromium is missing.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from curriculum.models import Key, Module
from learners.models import Learner
from learners.services import key_set_done, module_set_done
from tests.factories import LearnerFactory
from tests.security.test_access import ACTORS, ROWS, world  # noqa: F401 - the fixture

from .browsers import BROWSER_TEST, axe_serious, screenshot, signed_in

ADMIN = settings.ADMIN_URL

pytestmark = BROWSER_TEST

# Downloads, JSON and the experiment form's plan block (a fragment its script fetches), not
# pages.
NOT_PAGES = ("export/", "jsi18n/", "autocomplete/", "experiment/plan/")


def admin_pages() -> list[str]:
    """Every admin URL of the access table that the superuser opens with a 200."""
    superuser = ACTORS.index("superuser")
    pages = []
    for row in ROWS:
        if not row.url.startswith(f"/{ADMIN}") or row.url.endswith(NOT_PAGES):
            continue
        if row.get[superuser] == "200" and row.url not in pages:
            pages.append(row.url)
    return pages


def test_the_table_lists_the_pages_instructors_use():
    pages = admin_pages()
    assert f"/{ADMIN}" in pages and f"/{ADMIN}insights/" in pages
    assert f"/{ADMIN}learners/learner/{{student}}/change/" in pages
    assert len(pages) > 60


def with_progress(ids_of: dict) -> None:
    """The student with a finished module and a ticked key: their rows (and delete boxes) show
    on the learner's page."""
    student = Learner.objects.get(pk=ids_of["ids"]["student"])
    module_set_done(learner=student, module=Module.objects.get(number=1), done=True)
    key = Key.objects.filter(track__slug="engineer", modules__isnull=True).order_by("pk").first()
    key_set_done(learner=student, key=key, done=True)
    # A learner at every level: each tier of the dashboard's pyramid carries its number.
    for level in (2, 3, 4):
        LearnerFactory(engineer=True, level=level)


def test_every_admin_page_passes_axe(site, chromium, world):  # noqa: F811
    with_progress(world)
    page = signed_in(chromium, site, world["users"]["superuser"], width=1280)
    found = {}
    for url in admin_pages():
        path = url.format(**world["ids"])
        response = page.goto(site.url + path)
        assert response.status == 200, path
        found[path] = axe_serious(page)
    _report(found)
    assert {path: issues for path, issues in found.items() if issues} == {}


def _report(found: dict) -> None:
    import json
    import os

    if os.environ.get("AXE_REPORT"):
        Path(os.environ["AXE_REPORT"]).write_text(json.dumps(found, indent=1))


def test_the_instructor_pages_pass_axe_too(site, chromium, world):  # noqa: F811
    """What differs for an instructor: read-only fields, fewer actions."""
    with_progress(world)
    page = signed_in(chromium, site, world["users"]["instructor"], width=1280)
    found = {}
    for url in (
        f"/{ADMIN}learners/learner/{{student}}/change/",
        f"/{ADMIN}learners/user/{{superuser_user}}/change/",
        f"/{ADMIN}integrations/platformconnection/{{connection}}/change/",
        f"/{ADMIN}insights/",
    ):
        path = url.format(**world["ids"])
        page.goto(site.url + path)
        found[path] = axe_serious(page)
    assert {path: issues for path, issues in found.items() if issues} == {}


def test_the_dashboard_insights_and_lift_report_fit_a_phone_and_pass_axe(site, chromium, world):  # noqa: F811
    page = signed_in(chromium, site, world["users"]["superuser"], width=390)
    widths, found = {}, {}
    for path in (
        f"/{ADMIN}dashboard/",
        f"/{ADMIN}insights/",
        f"/{ADMIN}nudges/experiment/{world['ids']['experiment']}/report/",
    ):
        page.goto(site.url + path)
        widths[path] = page.evaluate("document.documentElement.scrollWidth")
        screenshot(page, "phone-" + path.strip("/").replace("/", "-"))
        # A table that scrolls inside its box on a phone must be reachable by keyboard.
        found[path] = axe_serious(page)
    assert {path: width for path, width in widths.items() if width > 390} == {}
    assert {path: issues for path, issues in found.items() if issues} == {}
