"""Every nudge email as the student receives it, both parts (issue 11, part 4): no internal
text (key codes, Python reprs, the raw targeting line), module numbers in order, one of the
level's two headlines, no level before the self-assessment, the student's first name.
Run with ``-s`` to read them."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.utils import timezone

from curriculum.models import Key, Level, TrackLevel
from curriculum.selectors import curriculum_rules
from learners.models import Learner
from learners.nudges.content import nudge_context, nudge_message
from learners.nudges.models import Nudge
from learners.nudges.selectors import chunk_placements, level_messages
from learners.placement import module_list
from learners.services import key_set_done

from .conftest import make_learner

DEDUP_KEYS = {
    "welcome": "welcome",
    "self_assessment": "self-assessment",
    "next_step": "2026-06-10",
    "level_up": "level-2",
    "placement": "once",
}


def render(learner: Learner, kind: str) -> tuple[str, str, str]:
    nudge = Nudge.objects.create(learner=learner, kind=kind, dedup_key=DEDUP_KEYS[kind])
    learner = Learner.objects.select_related("track", "user").get(pk=learner.pk)
    context = nudge_context(
        nudges=[nudge],
        learner=learner,
        placement=chunk_placements([learner])[learner.pk],
        curriculum=curriculum_rules(),
        levels=level_messages(),
        now=timezone.now(),
    )
    message = nudge_message(nudge=nudge, learner=learner, context=context)
    (html,) = [body for body, type_ in message.alternatives if type_ == "text/html"]
    print(
        f"\n=== {kind} · {message.subject}\n--- text/plain\n{message.body}\n--- text/html\n{html}"
    )
    return message.subject, message.body, html


def placed_level(learner: Learner) -> int:
    """The level the emails name (the stored one may not be recomputed yet in a test)."""
    learner = Learner.objects.select_related("track").get(pk=learner.pk)
    return chunk_placements([learner])[learner.pk].level


def visible(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def headlines_in(part: str) -> list[str]:
    return [
        headline
        for headline in TrackLevel.objects.values_list("headline", flat=True)
        if headline and headline in part
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(DEDUP_KEYS))
@pytest.mark.parametrize("assessed", [True, False], ids=["assessed", "not-assessed"])
def test_no_internal_text_reaches_the_student(kind, assessed):
    learner = make_learner(engineer=assessed, user__first_name="Ada")
    subject, text, html = render(learner, kind)

    for part in (subject, text, visible(html)):
        assert not re.search(r"\b(engineer|founder)-\d-\d\d\b", part), "a key code"
        assert not re.search(r"frozenset|[{}\[\]]|\(\)", part), "a Python repr"
        assert '" or "' not in part, "the raw targeting line"
        assert len(headlines_in(part)) <= 1, "one headline per email"


# The client's defaults (issue 19): each level's headline belongs to a track.
TRACK_HEADLINES = {
    ("engineer", 1): "Start your production frontier AI career",
    ("engineer", 2): "From API user to production architect",
    ("engineer", 3): "Reach elite level",
    ("engineer", 4): "Maintain your edge",
    ("founder", 1): "Build your first MoE system",
    ("founder", 2): "Stop renting AI, start owning",
    ("founder", 3): "Build frontier systems at scale",
    ("founder", 4): "Pioneer the frontier future",
}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["next_step", "level_up", "placement"])
@pytest.mark.parametrize("track", ["engineer", "founder"])
def test_an_email_carries_its_tracks_headline_of_the_level(kind, track):
    learner = make_learner(engineer=track == "engineer", founder=track == "founder")
    _, text, html = render(learner, kind)
    expected = TRACK_HEADLINES[track, placed_level(learner)]
    assert headlines_in(text) == [expected]
    assert f"<strong>{expected}</strong>" in html
    # An instructor's edit of the track's headline is what the next email says.
    TrackLevel.objects.filter(track__slug=track, level__number=placed_level(learner)).update(
        headline="Own the stack"
    )
    Nudge.objects.all().delete()
    assert "Own the stack" in render(learner, kind)[1]


@pytest.mark.django_db
def test_the_welcome_email_before_the_self_assessment_names_no_level_and_asks_once():
    learner = make_learner(engineer=False, user__first_name="Ada")
    level_names = list(Level.objects.values_list("name", flat=True))

    subject, text, html = render(learner, "welcome")

    profile_url = "https://pyramid.test/profile/"
    for part in (subject, text, visible(html)):
        assert not [name for name in level_names if name in part]
        assert "Level 1" not in part
    assert subject == "Welcome to the Profit Pyramid, Ada: find your level in two minutes"
    assert text.startswith("Hi Ada,\n")
    assert text.count(profile_url) == 1
    assert html.count(f'href="{profile_url}"') == 1
    assert text.count("self-assessment") == 1


@pytest.mark.django_db
def test_the_welcome_email_after_the_self_assessment_names_the_level_and_the_steps():
    learner = make_learner(user__first_name="Ada")

    subject, text, html = render(learner, "welcome")

    assert f"You start at Level {placed_level(learner)}" in text
    assert "Your next steps toward" in text
    assert "self-assessment" not in text
    assert "Welcome, Ada" in html


@pytest.mark.django_db
def test_the_self_assessment_reminder_does_not_place_the_student_and_asks_once():
    learner = make_learner(engineer=False)

    subject, text, html = render(learner, "self_assessment")

    assert "Struggling" not in text + visible(html)
    assert text.count("https://pyramid.test/profile/") == 1
    assert html.count('href="https://pyramid.test/profile/"') == 1


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(DEDUP_KEYS))
def test_greets_by_first_name_and_never_by_address(kind):
    named = make_learner(engineer=kind != "self_assessment", user__first_name="Grace")
    unnamed = make_learner(engineer=kind != "self_assessment", user__first_name="")

    _, text, html = render(named, kind)
    assert "Grace" in text.split("\n")[0] and "Grace" in visible(html)
    _, text, html = render(unnamed, kind)
    first_line = text.split("\n")[0]
    # Never a greeting with a hole in it ("Hi,").
    assert first_line in ("Hello,", "Congratulations!")
    assert unnamed.user.email not in text and unnamed.user.email not in html


@pytest.mark.django_db
def test_a_key_done_with_several_modules_lists_them_in_order():
    learner = make_learner()  # an engineer at Surviving
    level_keys = Key.objects.filter(track=learner.track, level__number=placed_level(learner))
    linked = next(key for key in level_keys.order_by("order") if key.modules.count() > 1)
    for key in level_keys.filter(order__lt=linked.order, modules__isnull=True):
        key_set_done(learner=learner, key=key, done=True)

    _, text, html = render(learner, "next_step")

    numbers = sorted(linked.modules.values_list("number", flat=True))
    # The progress page's words for such a key ("Done when you finish modules 4–6").
    words = f"done when you finish modules {module_list(tuple(numbers))}"
    assert f"{linked.text} ({words})" in text
    assert words in html


@pytest.mark.django_db
def test_links_point_at_site_url(settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    learner = make_learner()

    _, text, html = render(learner, "next_step")

    links = re.findall(r"https?://[^\s\"<]+", text + html)
    assert links
    assert all(link.startswith("http://127.0.0.1:8000/") for link in links), links


def test_local_runs_link_to_the_host_make_run_serves():
    """`make run` serves 127.0.0.1:8000; links to another host (localhost) would open the
    site without the student's session cookie."""
    served = re.search(r"runserver (\S+)", (settings.BASE_DIR / "Makefile").read_text()).group(1)
    environment = {name: value for name, value in os.environ.items() if name != "SITE_URL"}
    environment["DJANGO_SETTINGS_MODULE"] = "pyramid_site.settings.local"
    site_url = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.SITE_URL)"],
        env=environment,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    assert site_url == f"http://{served}"


@pytest.mark.django_db
def test_a_learner_held_by_an_income_gate_reads_what_it_asks_not_a_request_to_assess():
    from curriculum.models import Module
    from learners.services import module_set_done

    learner = make_learner(annual_compensation=160_000)  # an engineer at Surviving
    level = placed_level(learner)
    for module in Module.objects.filter(stage__serves_level__number=level):
        module_set_done(learner=learner, module=module, done=True)
    for key in Key.objects.filter(track=learner.track, level__number=level, modules__isnull=True):
        key_set_done(learner=learner, key=key, done=True)
    assert placed_level(learner) == level  # held by the gate

    _, text, html = render(learner, "next_step")

    for part in (text, visible(html)):
        assert "Fill in the self-assessment" not in part
        assert "also needs your annual total compensation to be $200,000 or more" in part
    assert 'href="https://pyramid.test/profile/"' in html
