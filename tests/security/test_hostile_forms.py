"""Hostile input to the student's forms (the self-assessment and the progress POSTs) and HTML
in names on every page that shows them: a clear error and nothing written, never a 500."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from curriculum.models import Key, Module, SelfAssessmentQuestion, Track
from learners import assessment
from learners.assessment import MAX_AMOUNT
from learners.models import (
    KeyCompletion,
    Learner,
    LevelChange,
    ModuleProgress,
    available_timezones,
)
from learners.nudges.models import Nudge
from learners.services import learner_recompute_level
from tests.factories import (
    ENGINEER_ANSWERS,
    FOUNDER_ANSWERS,
    CohortFactory,
    LearnerFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
MARKUP = (SCRIPT, ATTRIBUTE)

AMOUNTS = ("annual_compensation", "monthly_recurring_revenue", "monthly_api_cost")
HOSTILE_VALUES = [
    "",
    " ",
    "-1",
    "-0",
    "1e9",
    "1E3",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "0001",
    " 42 ",
    "\t7\n",
    "1_000",
    "0x10",
    "1.5",
    "1,5",
    "$",
    ",",
    "²",
    "١٢٣",
    "𝟙𝟘𝟘",
    "9" * 30,
    "9" * 5000,
    str(MAX_AMOUNT),
    str(MAX_AMOUNT + 1),
    "99999999999999999999",
    "yes",
    "no",
    "YES",
    "true",
    "on",
    "architect",
    "ENGINEER",
    "engineer ",
    "pilot",
    "Mars/Olympus_Mons",
    "utc",
    "../../etc/passwd",
    "\x00",
    "engineer\x00",
    "UTC\x00",
    "\u202egnirts",
    "'; DROP TABLE learners_learner; --",
    SCRIPT,
    ATTRIBUTE,
]
VALID_VALUES = {
    "track": ["engineer", "founder"],
    "annual_compensation": ["160000", "160,000", "$160000", "0", ""],
    "annual_compensation_undisclosed": ["on", ""],
    "can_explain_concepts": ["yes", "no"],
    "can_implement_from_scratch": ["yes", "no"],
    "deployed_at_scale": ["yes", "no"],
    "seen_as": ["architect", "integrator"],
    "leads_initiatives": ["yes", "no"],
    "monthly_recurring_revenue": ["0", "80000", "1,000,000"],
    "monthly_api_cost": ["", "0", "20000"],
    "monthly_api_cost_undisclosed": ["on", ""],
    "owns_model_weights": ["yes", "no"],
    "replicable_by_competitors": ["yes", "no"],
    "investor_fundable": ["yes", "no"],
    "timezone": ["UTC", "Europe/Paris", "Asia/Kolkata"],
    "nudges_enabled": ["on", ""],
}


def _value(name: str):
    return st.one_of(
        st.sampled_from(VALID_VALUES[name]),
        st.sampled_from(HOSTILE_VALUES),
        st.text(max_size=12),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.floats().map(str),
    )


# A valid answer sheet of either track (or nothing), with up to three fields given any value,
# up to two fields left out, and fields the form does not have.
assessment_posts = st.builds(
    lambda base, changes, dropped, extra: {
        name: value for name, value in {**base, **changes, **extra}.items() if name not in dropped
    },
    st.sampled_from([ENGINEER_ANSWERS, FOUNDER_ANSWERS, {}]),
    st.lists(st.sampled_from(list(VALID_VALUES)), max_size=3, unique=True).flatmap(
        lambda names: st.fixed_dictionaries({name: _value(name) for name in names})
    ),
    st.sets(st.sampled_from(list(VALID_VALUES)), max_size=2),
    st.fixed_dictionaries(
        {},
        optional={
            "unknown_field": st.text(max_size=12),
            "level": st.sampled_from(["4", "-1", "99"]),
            "assessment_submitted_at": st.just("2020-01-01"),
        },
    ),
)


def snapshot(learner: Learner) -> tuple:
    """Everything a profile or progress POST could change for ``learner``."""
    return (
        Learner.objects.filter(pk=learner.pk).values().get(),
        sorted(KeyCompletion.objects.filter(learner=learner).values_list("key_id", flat=True)),
        sorted(ModuleProgress.objects.filter(learner=learner).values_list("module_id", flat=True)),
        LevelChange.objects.filter(learner=learner).count(),
        Nudge.objects.filter(learner=learner).count(),
    )


@pytest.fixture
def engineer(db) -> Learner:
    """An engineer at Surviving (level 2), with a self-assessment."""
    learner = LearnerFactory(engineer=True)
    learner_recompute_level(learner=learner)
    learner.refresh_from_db()
    return learner


@pytest.fixture
def newcomer(db) -> Learner:
    """A learner who has not filled in the self-assessment."""
    return LearnerFactory()


def assert_no_raw_markup(page: str) -> None:
    for markup in MARKUP:
        assert markup not in page


# --- the self-assessment form ----------------------------------------------------------------


def assert_saved_consistently(learner: Learner, data: dict) -> None:
    """A saved self-assessment is a valid one for the track that was posted."""
    learner.refresh_from_db()
    assert learner.has_assessment
    assert learner.track.slug == data["track"]
    assert learner.timezone == data["timezone"] and learner.timezone in available_timezones()
    answers = {name: getattr(learner, name) for name in assessment.FIELDS}
    assert assessment.assessment_errors(learner.track.slug, answers) == {}
    for question in assessment.QUESTIONS:
        if question.track != learner.track.slug:
            assert assessment.is_blank(getattr(learner, question.name))
    for name in AMOUNTS:
        value = getattr(learner, name)
        assert value is None or 0 <= value <= MAX_AMOUNT


@pytest.mark.slow
@pytest.mark.parametrize("who", ["engineer", "newcomer"])
@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=assessment_posts)
def test_any_self_assessment_post_is_saved_consistently_or_refused_unchanged(
    client, request, who, data
):
    learner = request.getfixturevalue(who)
    client.force_login(learner.user)
    before = snapshot(learner)
    with transaction.atomic():
        response = client.post("/profile/", data)

        event(f"status {response.status_code}")
        assert response.status_code in (200, 302)
        if response.status_code == 302:
            assert response["Location"] == "/progress/"
            assert_saved_consistently(learner, data)
        else:
            # Refused with errors, or (answers that lower the level) asked first.
            assert response.context["form"].errors or response.context["lowering"]
            assert "Nothing was saved yet" in response.text
            assert_no_raw_markup(response.text)
            assert snapshot(learner) == before
        transaction.set_rollback(True)


def _post_answers(client: Client, learner: Learner, data: dict):
    client.force_login(learner.user)
    return client.post("/profile/", data)


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("annual_compensation", "-1", "cannot be negative"),
        ("annual_compensation", "-0", None),
        ("annual_compensation", "1e9", "whole number"),
        ("annual_compensation", "NaN", "whole number"),
        ("annual_compensation", "inf", "whole number"),
        ("annual_compensation", "1.5", "whole number"),
        ("annual_compensation", "0x10", "whole number"),
        ("annual_compensation", "9" * 5000, "too large"),
        ("annual_compensation", "1000000001", "more than $1,000,000,000"),
        ("annual_compensation", "99999999999999999999", "more than $1,000,000,000"),
        ("annual_compensation", SCRIPT, "whole number"),
        ("annual_compensation", "", "Prefer not to say"),
        ("can_explain_concepts", "maybe", "Select a valid choice"),
        ("can_explain_concepts", "", "Please answer"),
        ("seen_as", "wizard", "Select a valid choice"),
        ("seen_as", ATTRIBUTE, "Select a valid choice"),
        ("track", "pilot", "Choose one of the tracks listed"),
        ("track", "engineer\x00", None),
        ("track", "", "Choose your track first"),
        ("track", SCRIPT, "Choose one of the tracks listed"),
        ("timezone", "Mars/Olympus_Mons", "is not a known time zone"),
        ("timezone", "utc", "is not a known time zone"),
        ("timezone", "UTC\x00", None),
        ("timezone", "", "Choose your time zone"),
        ("timezone", SCRIPT, "is not a known time zone"),
    ],
)
def test_a_bad_engineer_answer_is_a_field_error_and_nothing_is_saved(
    client, engineer, field, value, says
):
    before = snapshot(engineer)

    response = _post_answers(client, engineer, {**ENGINEER_ANSWERS, field: value})

    if value == "-0":  # minus zero is zero: a valid answer, which lowers the level
        assert response.status_code == 200 and response.context["lowering"]
        response = _post_answers(
            client, engineer, {**ENGINEER_ANSWERS, field: value, "confirm_lower": "1"}
        )
        assert response.status_code == 302
        engineer.refresh_from_db()
        assert engineer.annual_compensation == 0
        return
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    if says:
        assert says in " ".join(errors[field])
    assert_no_raw_markup(response.text)
    assert snapshot(engineer) == before


@pytest.mark.parametrize(
    ("value", "saved"),
    [("0001", 1), (" 160000 ", 160_000), ("$160,000", 160_000), ("١٦٠٠٠٠", 160_000)],
)
def test_amounts_with_leading_zeros_whitespace_or_other_digits_are_read_as_numbers(
    client, newcomer, value, saved
):
    response = _post_answers(client, newcomer, {**ENGINEER_ANSWERS, "annual_compensation": value})

    assert response.status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.annual_compensation == saved


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("monthly_recurring_revenue", "", "Enter your MRR"),
        ("monthly_recurring_revenue", "-5", "cannot be negative"),
        ("monthly_recurring_revenue", "1e3", "whole number"),
        ("monthly_api_cost", "NaN", "whole number"),
        ("monthly_api_cost_undisclosed", "on", "Leave the amount empty"),
        ("owns_model_weights", "sometimes", "Select a valid choice"),
    ],
)
def test_a_bad_founder_answer_is_a_field_error_and_nothing_is_saved(
    client, engineer, field, value, says
):
    before = snapshot(engineer)

    response = _post_answers(client, engineer, {**FOUNDER_ANSWERS, field: value})

    assert response.status_code == 200
    errors = response.context["form"].errors
    target = "monthly_api_cost" if field.endswith("_undisclosed") else field
    assert list(errors) == [target]
    assert says in " ".join(errors[target])
    assert snapshot(engineer) == before
    engineer.refresh_from_db()
    assert engineer.track.slug == "engineer"


def test_both_tracks_filled_keeps_only_the_chosen_tracks_answers(client, newcomer):
    response = _post_answers(client, newcomer, {**FOUNDER_ANSWERS, **ENGINEER_ANSWERS})

    assert response.status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.track.slug == "engineer"
    assert newcomer.annual_compensation == 160_000
    assert newcomer.monthly_recurring_revenue is None
    assert newcomer.monthly_api_cost is None
    assert newcomer.owns_model_weights is None


def test_bad_values_in_the_other_tracks_fields_are_ignored(client, newcomer):
    data = {**ENGINEER_ANSWERS, "monthly_recurring_revenue": "-5", "owns_model_weights": SCRIPT}

    response = _post_answers(client, newcomer, data)

    assert response.status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.monthly_recurring_revenue is None and newcomer.owns_model_weights is None


def test_a_refused_form_shows_what_was_typed_escaped(client, engineer):
    data = {**ENGINEER_ANSWERS, "annual_compensation": ATTRIBUTE, "timezone": SCRIPT}

    response = _post_answers(client, engineer, data)

    assert response.status_code == 200
    assert escape(ATTRIBUTE) in response.text  # the input keeps what was typed
    assert escape(SCRIPT) in response.text  # the time zone error names it
    assert_no_raw_markup(response.text)


def test_curriculum_text_in_the_form_help_is_escaped(client, engineer):
    """Question texts and the currency metric are edited by instructors; the form shows
    them as help next to the amounts, which must not run as HTML in a student's page."""
    Track.objects.filter(slug="engineer").update(currency_metric=SCRIPT)
    SelfAssessmentQuestion.objects.filter(track__slug="founder").update(text=ATTRIBUTE)
    client.force_login(engineer.user)

    response = client.get("/profile/")

    assert response.status_code == 200
    assert escape(SCRIPT) in response.text and escape(ATTRIBUTE) in response.text
    assert_no_raw_markup(response.text)


# --- the progress POSTs ----------------------------------------------------------------------


def _ids(engineer: Learner) -> dict[str, list[int]]:
    keys = Key.objects.filter(track=engineer.track)
    return {
        "own": list(keys.filter(modules__isnull=True).values_list("pk", flat=True)),
        "linked": list(keys.filter(modules__isnull=False).distinct().values_list("pk", flat=True)),
        "other": list(Key.objects.exclude(track=engineer.track).values_list("pk", flat=True)),
        "modules": list(Module.objects.values_list("pk", flat=True)),
    }


HOSTILE_DONE = ["", "2", "-1", "yes", "true", "on", " 1", "1 ", "01", "1.0", "\x00", SCRIPT, None]


@pytest.mark.slow
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["keys", "modules"]),
    pick=st.sampled_from(["own", "linked", "other", "modules", "random"]),
    index=st.integers(min_value=0, max_value=200),
    random_id=st.integers(min_value=0, max_value=10**30),
    done=st.sampled_from(["1", "0", *HOSTILE_DONE]) | st.text(max_size=5),
)
def test_any_progress_post_changes_exactly_what_it_says_or_nothing(
    client, engineer, kind, pick, index, random_id, done
):
    ids = _ids(engineer)
    item = random_id if pick == "random" else ids[pick][index % len(ids[pick])]
    client.force_login(engineer.user)
    before = snapshot(engineer)
    with transaction.atomic():
        response = client.post(f"/progress/{kind}/{item}/", {} if done is None else {"done": done})
        event(f"status {response.status_code}")

        found = item in (ids["own"] + ids["linked"] if kind == "keys" else ids["modules"])
        valid_done = done in ("1", "0")
        if not found:
            assert response.status_code == 404, (kind, pick, item)
        elif not valid_done:
            assert response.status_code == 400
        else:
            assert response.status_code == 302
        if found and valid_done and not (kind == "keys" and item in ids["linked"]):
            model, field = (
                (KeyCompletion, "key_id") if kind == "keys" else (ModuleProgress, "module_id")
            )
            exists = model.objects.filter(learner=engineer, **{field: item}).exists()
            assert exists is (done == "1")
        else:
            assert snapshot(engineer) == before
        transaction.set_rollback(True)


@pytest.mark.parametrize(
    "path",
    [
        "/progress/keys/abc/",
        "/progress/keys/-1/",
        "/progress/keys/1.5/",
        "/progress/keys/%00/",
        "/progress/keys/0/",
        "/progress/keys/99999999999999999999999999999999/",
        "/progress/keys/9223372036854775808/",
        "/progress/modules/2147483648/",
        "/progress/modules/-3/",
        "/progress/modules/%3Cscript%3E/",
        "/progress/modules/1e3/",
    ],
)
def test_garbage_and_out_of_range_ids_are_404_and_change_nothing(client, engineer, path):
    client.force_login(engineer.user)
    before = snapshot(engineer)

    response = client.post(path, {"done": "1"})

    # A NUL in the path is refused before any view runs (400); any other garbage is 404.
    assert response.status_code == (400 if "%00" in path else 404)
    assert snapshot(engineer) == before


@pytest.mark.parametrize("done", HOSTILE_DONE)
@pytest.mark.parametrize("kind", ["keys", "modules"])
def test_a_missing_or_garbage_done_is_400_and_changes_nothing(client, engineer, kind, done):
    item = Key.objects.get(code="engineer-2-01") if kind == "keys" else Module.objects.get(number=4)
    client.force_login(engineer.user)
    before = snapshot(engineer)

    response = client.post(f"/progress/{kind}/{item.pk}/", {} if done is None else {"done": done})

    assert response.status_code == 400
    assert "done must be 1 or 0" in response.text
    assert snapshot(engineer) == before


def test_a_module_linked_key_cannot_be_ticked_by_hand(client, engineer):
    key = Key.objects.filter(track=engineer.track, modules__isnull=False).first()
    client.force_login(engineer.user)
    before = snapshot(engineer)

    response = client.post(f"/progress/keys/{key.pk}/", {"done": "1"}, follow=True)

    assert response.status_code == 200
    assert "is done by completing its modules" in response.text
    assert snapshot(engineer) == before


def test_progress_posts_by_a_learner_without_a_track_change_nothing(client, newcomer):
    client.force_login(newcomer.user)
    before = snapshot(newcomer)
    key = Key.objects.get(code="engineer-1-01")

    assert client.post(f"/progress/keys/{key.pk}/", {"done": "1"}).status_code == 404
    response = client.post(f"/progress/modules/{Module.objects.first().pk}/", {"done": "1"})
    assert response.status_code == 302 and response["Location"] == "/profile/"
    assert snapshot(newcomer) == before


# --- HTML in names ---------------------------------------------------------------------------


@pytest.fixture
def hostile(db) -> Learner:
    learner = LearnerFactory(
        engineer=True,
        user__first_name=SCRIPT,
        user__last_name=ATTRIBUTE,
        cohort=CohortFactory(name=SCRIPT),
    )
    learner_recompute_level(learner=learner)
    Nudge.objects.create(learner=learner, kind="welcome", dedup_key="once")
    return learner


@pytest.fixture
def instructor_client(client, db) -> Client:
    # The instructor's own name is shown in the admin's header.
    user = UserFactory(is_staff=True, first_name=ATTRIBUTE, last_name=SCRIPT)
    user.groups.add(Group.objects.get(name="Instructors"))
    client.force_login(user)
    return client


# A valid address (a quoted local part) carrying markup.
HOSTILE_ADDRESS = '"<script>alert(1)</script>"@example.com'


def test_the_students_account_page_shows_their_address_escaped(client, db):
    # The student's pages show none of their name or cohort (the admin's do: below); the
    # address is what they show, on the account page.
    learner = LearnerFactory(engineer=True, user__email=HOSTILE_ADDRESS)
    EmailAddress.objects.create(user=learner.user, email=HOSTILE_ADDRESS, primary=True)
    client.force_login(learner.user)

    response = client.get("/accounts/email/")

    assert response.status_code == 200
    assert escape(HOSTILE_ADDRESS) in response.text  # shown, as text
    assert SCRIPT not in response.text


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("admin:learners_learner_changelist", ""),
        ("admin:learners_learner_changelist", "?q=alert"),
        ("admin:learners_learner_change", ""),
        ("admin:nudges_nudge_changelist", ""),
        ("admin:learners_levelchange_changelist", ""),
        ("admin:learners_cohort_changelist", ""),
        ("admin:learners_user_changelist", ""),
        ("admin_dashboard", ""),
        ("admin:index", ""),
    ],
)
def test_the_admin_escapes_names_in_lists_forms_and_the_dashboard(
    instructor_client, hostile, name, query
):
    args = [hostile.pk] if name.endswith("_change") else []
    response = instructor_client.get(reverse(name, args=args) + query)

    assert response.status_code == 200
    assert_no_raw_markup(response.text)
    assert escape(ATTRIBUTE) in response.text  # the name is there, as text
