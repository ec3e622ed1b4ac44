"""The student's pages through HTTP: access, validation, POST-redirect-GET, query counts."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from curriculum.models import Key, Level, Module
from curriculum.selectors import curriculum_rules
from learners.models import KeyCompletion, Learner, LevelChange, ModuleProgress
from learners.services import key_set_done, learner_recompute_level, module_set_done
from tests.factories import ENGINEER_ANSWERS, FOUNDER_ANSWERS, LearnerFactory

pytestmark = pytest.mark.django_db


def _login(client: Client, learner: Learner) -> Client:
    client.force_login(learner.user)
    return client


@pytest.fixture
def engineer(db) -> Learner:
    """An engineer placed at Surviving (band and answers both say level 2)."""
    learner = LearnerFactory(engineer=True)
    learner_recompute_level(learner=learner)
    learner.refresh_from_db()
    assert learner.level == 2
    return learner


@pytest.fixture
def engineer_client(client, engineer) -> Client:
    return _login(client, engineer)


@pytest.fixture
def engineer_at_gate(db) -> Learner:
    """An engineer at Surviving (their answers say level 2) whose pay, $200,000, meets the
    income gate to Thriving: progress alone can move them up."""
    learner = LearnerFactory(engineer=True, annual_compensation=200_000)
    learner_recompute_level(learner=learner)
    learner.refresh_from_db()
    assert learner.level == 2
    return learner


def _key(code: str) -> Key:
    return Key.objects.get(code=code)


def _module(number: int) -> Module:
    return Module.objects.get(number=number)


def _snapshot(learner: Learner) -> tuple:
    learner.refresh_from_db()
    return (
        learner.level,
        learner.last_activity_at,
        sorted(KeyCompletion.objects.filter(learner=learner).values_list("key_id", flat=True)),
        sorted(ModuleProgress.objects.filter(learner=learner).values_list("module_id", flat=True)),
        LevelChange.objects.filter(learner=learner).count(),
    )


# --- Access --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/profile/"),
        ("get", "/progress/"),
        ("post", "/progress/keys/1/"),
        ("post", "/progress/modules/1/"),
    ],
)
def test_anonymous_users_are_sent_to_log_in(client, method, url):
    response = getattr(client, method)(url, {"done": "1"})

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    assert not KeyCompletion.objects.exists()
    assert not ModuleProgress.objects.exists()


def test_landing_page_says_what_the_tracker_is_and_links_to_sign_up(client):
    response = client.get("/")

    assert response.status_code == 200
    assert "Profit Pyramid" in response.text
    assert reverse("account_signup") in response.text
    assert reverse("account_login") in response.text


def test_progress_asks_for_the_self_assessment_until_it_is_filled(client):
    learner = LearnerFactory()

    response = _login(client, learner).get("/progress/", follow=True)

    assert response.redirect_chain == [(reverse("profile"), 302)]
    assert "Fill in your self-assessment first" in response.text


def test_a_key_of_the_other_track_is_404_and_changes_nothing(engineer_client, engineer):
    before = _snapshot(engineer)
    founder_key = _key("founder-2-01")

    response = engineer_client.post(f"/progress/keys/{founder_key.pk}/", {"done": "1"})

    assert response.status_code == 404
    assert _snapshot(engineer) == before


def test_a_module_that_does_not_exist_is_404_and_changes_nothing(engineer_client, engineer):
    before = _snapshot(engineer)
    missing = Module.objects.order_by("-pk").first().pk + 1

    response = engineer_client.post(f"/progress/modules/{missing}/", {"done": "1"})

    assert response.status_code == 404
    assert _snapshot(engineer) == before


def test_one_learner_cannot_change_another_learners_progress(client, engineer):
    other = LearnerFactory(founder=True)
    learner_recompute_level(learner=other)
    engineer_key = _key("engineer-2-01")
    before = _snapshot(engineer)

    response = _login(client, other).post(f"/progress/keys/{engineer_key.pk}/", {"done": "1"})

    assert response.status_code == 404
    assert _snapshot(engineer) == before
    assert not KeyCompletion.objects.filter(learner=other).exists()


def test_progress_only_accepts_get(engineer_client):
    assert engineer_client.post("/progress/").status_code == 405


@pytest.mark.parametrize("url", ["/progress/keys/{key}/", "/progress/modules/{module}/"])
def test_progress_changes_only_accept_post(engineer_client, url):
    url = url.format(key=_key("engineer-2-01").pk, module=_module(4).pk)

    assert engineer_client.get(url).status_code == 405


# --- CSRF ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/profile/", "/progress/keys/{key}/", "/progress/modules/{module}/"],
)
def test_posts_without_a_csrf_token_are_refused(engineer, url):
    client = _login(Client(enforce_csrf_checks=True), engineer)
    url = url.format(key=_key("engineer-2-01").pk, module=_module(4).pk)
    before = _snapshot(engineer)

    response = client.post(url, {**FOUNDER_ANSWERS, "done": "1"})

    assert response.status_code == 403
    assert _snapshot(engineer) == before
    engineer.refresh_from_db()
    assert engineer.track.slug == "engineer"


def test_the_progress_page_forms_carry_a_working_csrf_token(engineer):
    client = _login(Client(enforce_csrf_checks=True), engineer)
    page = client.get("/progress/").text
    module = _module(4)
    # Every button posts through the page's one form, to its own formaction.
    button = re.search(
        rf'<button type="submit" form="([^"]+)" formaction="(/progress/modules/{module.pk}/)"'
        r' name="done" value="1"',
        page,
    )
    form = re.search(
        rf'<form id="{button.group(1)}" method="post">'
        r'<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)">',
        page,
    )

    response = client.post(button.group(2), {"csrfmiddlewaretoken": form.group(1), "done": "1"})

    assert response.status_code == 302
    assert ModuleProgress.objects.filter(learner=engineer, module=module).exists()


# --- Progress changes: POST, redirect, GET -------------------------------------------------


def test_completing_a_module_redirects_back_and_shows_it_done(engineer_client, engineer):
    module = _module(4)

    response = engineer_client.post(f"/progress/modules/{module.pk}/", {"done": "1"})

    assert response.status_code == 302
    # Back to the item, with the Undo of what was just done.
    assert response.url == f"/progress/?undo=module-{module.pk}-0#module-{module.number}"
    assert ModuleProgress.objects.filter(learner=engineer, module=module).count() == 1
    page = engineer_client.get(response.url)
    assert f"Module 4 completed: {module.title}." in page.text
    assert f'hx-post="/progress/modules/{module.pk}/" id="toggle-module-4"' in page.text
    assert 'aria-pressed="true"><span class="toggle__box" aria-hidden="true">✓</span>' in page.text
    # Undo posts the other state to the same item.
    assert (
        f'formaction="/progress/modules/{module.pk}/?undo=1" name="done" value="0"'
        f' hx-post="/progress/modules/{module.pk}/?undo=1" hx-target="#progress-body"'
    ) in page.text


def test_a_double_submit_never_creates_two_rows(engineer_client, engineer):
    module, key = _module(4), _key("engineer-2-01")

    for _ in range(2):
        engineer_client.post(f"/progress/modules/{module.pk}/", {"done": "1"})
        engineer_client.post(f"/progress/keys/{key.pk}/", {"done": "1"})

    assert ModuleProgress.objects.filter(learner=engineer).count() == 1
    assert KeyCompletion.objects.filter(learner=engineer).count() == 1


def test_unticking_a_key_removes_it_and_is_idempotent(engineer_client, engineer):
    key = _key("engineer-2-01")
    key_set_done(learner=engineer, key=key, done=True)

    for _ in range(2):
        response = engineer_client.post(f"/progress/keys/{key.pk}/", {"done": "0"})
        assert response.status_code == 302

    assert not KeyCompletion.objects.filter(learner=engineer).exists()


@pytest.mark.parametrize("done", ["", "yes", "2"])
def test_a_progress_change_needs_a_desired_state(engineer_client, engineer, done):
    before = _snapshot(engineer)

    response = engineer_client.post(f"/progress/modules/{_module(4).pk}/", {"done": done})

    assert response.status_code == 400
    assert _snapshot(engineer) == before


def test_a_module_linked_key_cannot_be_ticked_by_hand(engineer_client, engineer):
    linked = _key("engineer-2-06")
    assert linked.modules.exists()

    response = engineer_client.post(f"/progress/keys/{linked.pk}/", {"done": "1"}, follow=True)

    assert "is done by completing its modules" in response.text
    assert not KeyCompletion.objects.filter(learner=engineer).exists()


def test_module_linked_keys_show_as_done_by_their_modules_without_a_tick_box(
    engineer_client, engineer
):
    linked = _key("engineer-2-06")
    for number in (4, 5, 6):
        module_set_done(learner=engineer, module=_module(number), done=True)

    page = engineer_client.get("/progress/").text

    item = re.search(
        rf'<li class="checklist__item is-done" id="key-{linked.pk}">(.*?)</li>', page, re.S
    )
    assert item is not None
    assert "Done by modules 4–6" in item.group(1)
    assert "<form" not in item.group(1)


def test_reaching_the_next_level_shows_a_congratulation_and_a_history_entry(
    client, engineer_at_gate
):
    engineer, engineer_client = engineer_at_gate, _login(client, engineer_at_gate)
    # Surviving -> Thriving needs modules 4-6 (which also do the linked key), 10 of 12 keys
    # and pay at the gate.
    for number in (4, 5, 6):
        module_set_done(learner=engineer, module=_module(number), done=True)
    for code in ("engineer-2-01", "engineer-2-02", "engineer-2-03", "engineer-2-04"):
        key_set_done(learner=engineer, key=_key(code), done=True)
    for code in ("engineer-2-05", "engineer-2-07", "engineer-2-08", "engineer-2-09"):
        key_set_done(learner=engineer, key=_key(code), done=True)
    engineer.refresh_from_db()
    assert engineer.level == 2
    last = _key("engineer-2-10")

    response = engineer_client.post(f"/progress/keys/{last.pk}/", {"done": "1"}, follow=True)

    # The level changed: back to the top of the page, where the new level is.
    assert response.redirect_chain == [(f"/progress/?undo=key-{last.pk}-0", 302)]
    assert "Congratulations! You moved up to level 3: Thriving." in response.text
    assert "You are at level 3" in response.text
    assert "Moved up from Surviving to <strong>Thriving</strong>" in response.text
    engineer.refresh_from_db()
    assert engineer.level == 3
    # The message is shown once: reloading the page does not congratulate again.
    assert "Congratulations" not in engineer_client.get("/progress/").text


def test_going_down_a_level_is_reported_without_congratulation(client, engineer_at_gate):
    engineer, engineer_client = engineer_at_gate, _login(client, engineer_at_gate)
    for number in (4, 5, 6):
        module_set_done(learner=engineer, module=_module(number), done=True)
    for n in (1, 2, 3, 4, 5, 7, 8, 9, 10):
        key_set_done(learner=engineer, key=_key(f"engineer-2-{n:02}"), done=True)
    engineer.refresh_from_db()
    assert engineer.level == 3

    response = engineer_client.post(
        f"/progress/modules/{_module(6).pk}/", {"done": "0"}, follow=True
    )

    assert "Your level is now 2: Surviving." in response.text
    assert "Congratulations" not in response.text


# --- The progress page ---------------------------------------------------------------------


def test_progress_page_shows_level_reasons_next_steps_and_an_accessible_pyramid(
    engineer_client,
):
    page = engineer_client.get("/progress/").text

    assert "You are at level 2" in page
    assert "Your annual total compensation of $160,000 is in the Surviving band" in page
    assert re.search(
        r"To Thriving: 0 of 10 keys · 0 of 3 modules · annual [^<]* of \$200,000\+ not yet reached",
        page,
    )
    # The unmet gate is one more step of the bar: never full while it holds.
    assert '<progress class="meter" max="14" value="0"' in page
    assert 'role="img"' in page and "you are at level 2, Surviving" in page
    assert page.count('class="pyramid__tier') == 4
    assert "pyramid__tier--2 is-current" in page
    # The 9 modules, each with its own form, the 12 Surviving keys and, collapsed, the 10
    # Struggling keys (finished levels stay visible).
    assert page.count('formaction="/progress/modules/') == 9
    assert page.count('class="checklist__item') == 22
    assert "<summary>Struggling — 0 of 10 keys</summary>" in page


def test_the_pyramid_drawing_shows_a_renamed_level_at_once(engineer_client):
    # The page is cached (learners.views); the curriculum's version is part of its key.
    assert "you are at level 2, Surviving" in engineer_client.get("/progress/").text
    level = Level.objects.get(number=2)
    level.name = "Getting by"
    level.save()

    page = engineer_client.get("/progress/").text

    drawing = re.search(r'<svg class="pyramid".*?</svg>', page, re.DOTALL).group(0)
    assert "you are at level 2, Getting by" in drawing
    assert "Level 2: Getting by (your level)" in drawing
    assert "Surviving" not in drawing  # (the level history keeps the reasons of its time)


def test_founders_see_their_api_cost_share_of_revenue(client):
    learner = LearnerFactory(founder=True, monthly_recurring_revenue=80_000)
    learner_recompute_level(learner=learner)

    page = _login(client, learner).get("/progress/").text

    assert "6%</span>" in page  # 5,000 of 80,000
    assert "of your revenue goes to API costs" in page


def _everything_done(learner: Learner) -> None:
    rules = curriculum_rules()
    for module in Module.objects.all():
        ModuleProgress.objects.create(learner=learner, module=module)
    track = rules.tracks[learner.track.slug]
    for keys in track.keys.values():
        for key in keys:
            if not key.module_linked:
                KeyCompletion.objects.create(learner=learner, key_id=key.id)
    learner_recompute_level(learner=learner)


# Queries of /progress/. The session comes from the cache (SESSION_ENGINE is cached_db;
# force_login saved it, which also cached it) and so does the curriculum (warmed first):
# neither costs a query. A cache hit reads the user and the learner's key fields (id,
# version, track, submitted); a miss also reads the whole learner with its track, their
# completions (modules and keys, one UNION) and level history. Exact, so that a query
# coming back (or one per key or module) fails the test.
PROGRESS_QUERIES_HIT = 2
PROGRESS_QUERIES_MISS = 5


@pytest.mark.parametrize("progress", ["none", "everything"])
def test_progress_page_runs_the_same_few_queries_whatever_the_progress(
    client, django_assert_num_queries, progress
):
    # Pay at the top gate, so that everything done takes them to the top.
    learner = LearnerFactory(engineer=True, annual_compensation=300_000)
    if progress == "everything":
        _everything_done(learner)
        assert LevelChange.objects.filter(learner=learner).exists()
    _login(client, learner)
    curriculum_rules()  # warm cache: the curriculum is read once per cache lifetime
    expected = "level 4" if progress == "everything" else "level 2"

    with django_assert_num_queries(PROGRESS_QUERIES_MISS):
        miss = client.get("/progress/")
    with django_assert_num_queries(PROGRESS_QUERIES_HIT):
        hit = client.get("/progress/")

    assert miss.status_code == hit.status_code == 200
    assert f"You are at {expected}" in miss.text
    assert f"You are at {expected}" in hit.text


# Queries of a tick's round trip (the in-place htmx POST and its answer), a tick that moves
# no level: the user; the learner's id and track; the key (whether modules do it is in the
# curriculum rules, cached); the transaction (begin, commit: savepoints inside the test's
# own) around the learner's locked row (read with its track), the completion written (no
# read first), the learner's activity and version, and the recompute's progress (modules and
# keys, one UNION); then the body drawn from the locked row as the tick left it (their
# completions, one UNION, and history; neither the learner read again nor the cache asked:
# the tick changed the learner's version). The write part alone:
# tests/learners/test_tick_writes.py. A ceiling: bench/run.py measures the round trip's
# time against the signed-in trivial page (issue 19: within 5x).
TICK_QUERIES_MAX = 11


@pytest.mark.parametrize("done", ["1", "0"])
def test_a_tick_round_trip_runs_a_fixed_few_queries(client, django_assert_max_num_queries, done):
    learner = LearnerFactory(engineer=True, annual_compensation=160_000)
    learner_recompute_level(learner=learner)
    key = Key.objects.filter(track__slug="engineer", level__number=2, modules__isnull=True)[0]
    if done == "0":
        key_set_done(learner=Learner.objects.get(pk=learner.pk), key=key, done=True)
    _login(client, learner)
    curriculum_rules()
    with django_assert_max_num_queries(TICK_QUERIES_MAX):
        answer = client.post(f"/progress/keys/{key.pk}/", {"done": done}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    assert f'id="key-{key.pk}"' in answer.text
    assert LevelChange.objects.filter(learner=learner).count() == 1  # the placement only


# --- The self-assessment -------------------------------------------------------------------


def test_the_self_assessment_uses_the_curriculum_questions(client):
    page = _login(client, LearnerFactory()).get("/profile/").text

    assert "Can you implement MoE or MLA from scratch without looking it up?" in page
    assert "Would investors fund you based on proprietary frontier technology?" in page
    assert "Prefer not to say" in page
    assert "data-detect-timezone" in page  # no zone chosen yet: the browser's is preselected


def test_saving_the_self_assessment_redirects_to_the_progress_page(client):
    learner = LearnerFactory()
    _login(client, learner)

    response = client.post("/profile/", ENGINEER_ANSWERS)

    assert response.status_code == 302
    assert response.url == reverse("progress")
    learner.refresh_from_db()
    assert learner.track.slug == "engineer"
    assert learner.annual_compensation == 160_000
    assert learner.can_explain_concepts is True
    assert learner.timezone == "Europe/Paris"
    assert learner.level == 2
    assert "You are at level 2" in client.get(response.url).text


def test_only_the_chosen_tracks_answers_are_kept(client):
    # Without JavaScript both tracks' questions are on the page; the other track's are ignored.
    learner = LearnerFactory()
    _login(client, learner)
    posted = {**ENGINEER_ANSWERS, **FOUNDER_ANSWERS, "annual_compensation": "not a number"}

    response = client.post("/profile/", posted)

    assert response.status_code == 302
    learner.refresh_from_db()
    assert learner.track.slug == "founder"
    assert learner.monthly_recurring_revenue == 80_000
    assert learner.annual_compensation is None
    assert learner.can_explain_concepts is None


def test_an_engineer_may_prefer_not_to_say(client):
    learner = LearnerFactory()
    _login(client, learner)
    posted = {
        **ENGINEER_ANSWERS,
        "annual_compensation": "",
        "annual_compensation_undisclosed": "on",
    }

    response = client.post("/profile/", posted)

    assert response.status_code == 302
    learner.refresh_from_db()
    assert learner.has_assessment
    assert learner.annual_compensation is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("annual_compensation", "-5", "The amount cannot be negative."),
        ("annual_compensation", "lots", "Enter a whole number of US dollars"),
        ("annual_compensation", "12.5", "Enter a whole number of US dollars"),
        ("annual_compensation", "1000000001", "That is more than $1,000,000,000"),
        ("annual_compensation", "", "Enter the amount, or tick “Prefer not to say”."),
        ("can_explain_concepts", "", "Please answer this question."),
        ("seen_as", "wizard", "Select a valid choice."),
        ("timezone", "Mars/Olympus_Mons", "“Mars/Olympus_Mons” is not a known time zone."),
        ("track", "", "Choose your track first."),
    ],
)
def test_a_bad_answer_is_explained_next_to_its_field_and_nothing_is_saved(
    client, engineer, field, value, message
):
    _login(client, engineer)
    before = _snapshot(engineer)

    response = client.post("/profile/", {**ENGINEER_ANSWERS, field: value})

    assert response.status_code == 200
    field_html = re.search(
        rf'<div class="field [^"]*field--error" id="field-{field}">(.*?)</div>', response.text, re.S
    )
    assert field_html is not None, f"no error next to {field}"
    assert message in field_html.group(1).replace("&#x27;", "'").replace("&quot;", '"')
    assert "Nothing was saved yet." in response.text
    assert _snapshot(engineer) == before
    engineer.refresh_from_db()
    assert engineer.annual_compensation == 160_000
    assert engineer.timezone == "UTC"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("monthly_recurring_revenue", "", "Enter your MRR in US dollars (0 if pre-revenue)."),
        ("monthly_recurring_revenue", "-1", "The amount cannot be negative."),
        ("monthly_api_cost", "2e9", "Enter a whole number of US dollars"),
    ],
)
def test_founder_amounts_are_validated(client, field, value, message):
    learner = LearnerFactory()
    _login(client, learner)

    response = client.post("/profile/", {**FOUNDER_ANSWERS, field: value})

    assert response.status_code == 200
    assert message in response.text
    learner.refresh_from_db()
    assert not learner.has_assessment


def test_a_founder_may_leave_api_costs_blank_and_be_pre_revenue(client):
    learner = LearnerFactory()
    _login(client, learner)
    posted = {
        **FOUNDER_ANSWERS,
        "monthly_recurring_revenue": "0",
        "monthly_api_cost": "",
        "monthly_api_cost_undisclosed": "on",
    }

    assert client.post("/profile/", posted).status_code == 302

    learner.refresh_from_db()
    assert learner.monthly_recurring_revenue == 0
    assert learner.monthly_api_cost is None
    assert "You kept your API costs to yourself" in client.get("/progress/").text


def test_the_form_shows_the_saved_answers(client, engineer):
    page = _login(client, engineer).get("/profile/").text

    assert 'value="160000"' in page
    assert re.search(r'value="integrator"[^>]*checked', page)
    assert "data-detect-timezone" not in page
