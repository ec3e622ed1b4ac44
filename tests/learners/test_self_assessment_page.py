"""The self-assessment page tells the framework's levels, takes figures as people say them,
and asks before a change lowers the level."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from learners import assessment
from learners.assessment import AnswerError, parse_amount
from learners.forms import SelfAssessmentForm
from learners.models import LevelChange
from learners.services import learner_recompute_level
from tests.factories import ENGINEER_ANSWERS, LearnerFactory


@pytest.mark.parametrize(
    ("raw", "amount"),
    [
        ("180k", 180_000),
        ("180K", 180_000),
        ("$180k", 180_000),
        (" 180 k ", 180_000),
        ("1.5M", 1_500_000),
        ("1.25m", 1_250_000),
        ("0.5k", 500),
        ("$1,200k", 1_200_000),
        ("1.500000k", 1_500),
        ("١٨٠k", 180_000),
        ("-0k", 0),
        ("1000m", 1_000_000_000),
    ],
)
def test_thousands_and_millions_are_read(raw, amount):
    assert parse_amount(raw) == amount


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("1.2345k", "not a whole number"),
        ("1." + "0" * 5000 + "1k", "not a whole number"),
        ("1000.000001m", "too large"),
        ("1001m", "more than $1,000,000,000"),
        ("k", "for example 160000, $160,000 or 160k"),
        ("12k5", "for example"),
        ("5kk", "for example"),
        ("1.5", "for example"),
        (".5k", "for example"),
        ("-5k", "cannot be negative"),
        ("5b", "for example"),
    ],
)
def test_bad_suffixed_amounts_say_why(raw, says):
    with pytest.raises(AnswerError) as error:
        parse_amount(raw)
    assert says in str(error.value)


def test_the_roster_reads_the_same_figures():
    question = assessment.BY_NAME["annual_compensation"]
    assert assessment.parse_answer(question, "180k") == 180_000


def test_the_form_takes_180k_and_asks_for_one_figure_not_a_range(curriculum):
    form = SelfAssessmentForm(data={**ENGINEER_ANSWERS, "annual_compensation": "180k"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["annual_compensation"] == 180_000
    label = form.fields["annual_compensation"].label
    assert "range" not in label.lower()
    assert label == "What is your current annual salary?"
    assert "180k" in form.fields["annual_compensation"].help_text


def test_each_track_shows_its_four_level_lines_and_symptoms(client, curriculum):
    learner = LearnerFactory()
    client.force_login(learner.user)

    page = client.get("/profile/").text

    assert "range?" not in page
    for line in (
        "Salary &lt;$150K, can&#x27;t explain MoE/MLA, only API experience",
        "Salary $300K+, architecting frontier systems, leading teams",
        "Pre-revenue or &lt;$50K MRR, 100% API dependent, no moat",
        "$1M+ MRR, proprietary frontier systems, premium valuation, market leader",
    ):
        assert line in page
    assert page.count("<summary>Does this sound like you?") == 8
    assert "Senior engineer building applications with frontier APIs" in page


def _thriving_engineer():
    learner = LearnerFactory(
        engineer=True,
        annual_compensation=250_000,
        can_implement_from_scratch=True,
        seen_as="architect",
    )
    learner_recompute_level(learner=learner)
    learner.refresh_from_db()
    assert learner.level == 3
    return learner


def test_a_change_that_lowers_the_level_asks_first_then_warns(client, db):
    learner = _thriving_engineer()
    client.force_login(learner.user)
    lower = {**ENGINEER_ANSWERS, "annual_compensation": "120k", "can_explain_concepts": "no"}
    changes = LevelChange.objects.filter(learner=learner).count()

    asked = client.post("/profile/", lower)

    assert asked.status_code == 200
    assert (
        "This moves you from Thriving to Struggling because your annual total compensation "
        "of $120,000 is in the Struggling band" in asked.text.replace("&#x27;", "'")
    )
    assert 'name="confirm_lower" value="1"' in asked.text
    learner.refresh_from_db()
    assert learner.level == 3 and learner.annual_compensation == 250_000
    assert LevelChange.objects.filter(learner=learner).count() == changes

    confirmed = client.post("/profile/", {**lower, "confirm_lower": "1"})

    assert confirmed.status_code == 302
    learner.refresh_from_db()
    assert learner.level == 1
    [message] = list(get_messages(confirmed.wsgi_request))
    assert message.level_tag == "warning"
    assert str(message) == "Your self-assessment is saved. You are at level 1: Struggling."


def test_a_change_that_keeps_or_raises_the_level_saves_at_once(client, db):
    learner = _thriving_engineer()
    client.force_login(learner.user)
    same = {
        **ENGINEER_ANSWERS,
        "annual_compensation": "260k",
        "can_implement_from_scratch": "yes",
        "seen_as": "architect",
    }

    response = client.post("/profile/", same)

    assert response.status_code == 302
    learner.refresh_from_db()
    assert learner.annual_compensation == 260_000 and learner.level == 3
    [message] = list(get_messages(response.wsgi_request))
    assert message.level_tag == "success"
