"""The experiment pages of the admin in headless Chromium, at 1280 and 390 px: the plan on the
form, and the report before its plan, with its verdict, and with a flagged split. Nothing is
wider than the phone's screen. Set E2E_SCREENSHOTS to a folder to keep the screenshots."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from learners.models import Learner
from learners.nudges import rules
from learners.nudges.models import Experiment
from tests.factories import UserFactory
from tests.learners.nudges.conftest import bulk_learners
from tests.learners.nudges.test_experiments import decide, held, progress

from .browsers import BROWSER_TEST, signed_in

pytestmark = BROWSER_TEST

SIZES = (("desktop", 1280, 900), ("phone", 390, 844))


def experiment(percent: int, started, **plan) -> Experiment:
    from learners.nudges.services.experiments import experiment_set_share

    experiment_set_share(kind=rules.NEXT_STEP, percent=0, now=started - timedelta(days=1))
    return experiment_set_share(kind=rules.NEXT_STEP, percent=percent, now=started, **plan)


def test_the_experiment_pages_read_in_words_and_fit_a_phone(site, chromium):
    now = timezone.now()
    started = now - timedelta(days=60)
    # Ended with its answer: 20 points over 30 %, half held out, planned ~180.
    answered = experiment(50, started, baseline_percent=30, min_lift_points=20)
    learners = bulk_learners(240, signed_up_at=started, prefix="shot")
    decide(answered, learners, started + timedelta(hours=1))
    # Exactly 30 % of those held out progress and 55 % of those emailed: who is held out
    # depends on the learners' ids, which depend on the tests run before, and random draws
    # over them left the answer short of the plan in some orders.
    held_out = [x for x in learners if held(rules.NEXT_STEP, x.pk, 50)]
    emailed = [x for x in learners if not held(rules.NEXT_STEP, x.pk, 50)]
    progress(
        held_out[: round(len(held_out) * 0.3)] + emailed[: round(len(emailed) * 0.55)],
        started + timedelta(days=3),
    )
    # Running, collecting toward its plan, and 300 treated learners (over half) gone outside
    # erasure: flagged whichever learners the hash holds out (it depends on their ids).
    running = experiment(20, now - timedelta(days=20), baseline_percent=30, min_lift_points=10)
    others = bulk_learners(600, signed_up_at=started, prefix="run")
    decide(running, others, now - timedelta(days=10), dedup_key="2026-W40")
    gone = [x.pk for x in others if not held(rules.NEXT_STEP, x.pk, 20)][:300]
    Learner.objects.filter(pk__in=gone).delete()

    admin = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    cookies = [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": site.url}]
    pages = {
        "experiment-form": reverse("admin:nudges_experiment_add"),
        "experiment-list": reverse("admin:nudges_experiment_changelist"),
        "report-answer": reverse("admin:nudges_experiment_report", args=[answered.pk]),
        "report-collecting": reverse("admin:nudges_experiment_report", args=[running.pk]),
    }
    folder = os.environ.get("E2E_SCREENSHOTS")
    texts = {}
    for name, width, height in SIZES:
        context = chromium.new_context(viewport={"width": width, "height": height})
        context.add_cookies(cookies)
        page = context.new_page()
        for label, path in pages.items():
            page.goto(site.url + path)
            texts[label] = page.locator("#content").inner_text()
            overflow = page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width, f"{label} is {overflow}px wide at {width}px"
            if folder:
                Path(folder).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(Path(folder) / f"{label}-{name}.png"), full_page=True)
        context.close()
    assert "The plan" in texts["experiment-form"]
    assert "smallest lift found" in texts["experiment-form"].lower()
    assert "The email raised it." in texts["report-answer"]
    assert "Collecting:" in texts["report-collecting"]
    assert "Sample ratio mismatch" in texts["report-collecting"]
    for text in texts.values():
        for code_name in ("held_out", "next_step", "self_assessment", "progress_14"):
            assert code_name not in text


def test_the_experiment_form_redraws_its_plan_while_typing(site, chromium):
    """static/js/admin.js asks the admin for the plan of the numbers typed (no save)."""
    from learners.nudges import plan

    page = signed_in(chromium, site, UserFactory(is_staff=True, is_superuser=True))
    page.goto(site.url + reverse("admin:nudges_experiment_add"))
    page.fill("#id_holdout_percent", "20")
    page.fill("#id_baseline_percent", "25")
    page.fill("#id_min_lift_points", "5")
    planned = plan.planned_learners(0.25, 0.05, 0.20)
    box = page.locator("#experiment-plan")
    box.get_by_text(f"{planned:,} learners", exact=True).wait_for(timeout=10_000)
    detects = 100 * plan.detectable_lift(0.25, 1000, 0.20)
    assert f"{detects:.1f} points" in box.inner_text()
    assert not Experiment.objects.filter(kind=rules.NEXT_STEP, holdout_percent=20).exists()
    page.context.close()
