"""The self-assessment schema: one declaration per question, everything else derived."""

from __future__ import annotations

import dataclasses

import pytest

from learners import assessment
from learners.admin.learners import LearnerAdminForm
from learners.assessment import AnswerError, parse_amount, parse_answer, parse_yes_no
from learners.forms import SelfAssessmentForm, undisclosed
from learners.models import Learner
from learners.placement import Profile
from learners.roster import COLUMNS
from tests.factories import engineer_answers


def test_every_question_is_a_learner_field_a_profile_attribute_a_roster_column_and_a_form_field(
    db,
):
    profile_fields = {field.name for field in dataclasses.fields(Profile)}
    form = SelfAssessmentForm()
    admin_form = LearnerAdminForm()
    for question in assessment.QUESTIONS:
        Learner._meta.get_field(question.name)
        assert question.name in profile_fields
        assert question.name in COLUMNS
        assert question.name in form.fields
        assert question.name in admin_form.fields
        assert (undisclosed(question.name) in form.fields) == question.optional
    assert profile_fields == {"track", "submitted", *assessment.FIELDS}


def test_each_track_groups_its_own_questions_in_declaration_order(curriculum):
    form = SelfAssessmentForm()
    for track, fields in form.track_groups():
        names = [field.name for field in fields if not field.name.endswith("_undisclosed")]
        assert names == [q.name for q in assessment.questions_of(track.slug)]


def test_form_labels_come_from_the_curriculum_questions(curriculum):
    from curriculum.models import SelfAssessmentQuestion

    question = SelfAssessmentQuestion.objects.get(track__slug="engineer", order=3)
    question.text = "Have you shipped to millions of users?"
    question.save()
    assert SelfAssessmentForm().fields["deployed_at_scale"].label == question.text


@pytest.mark.parametrize(
    ("raw", "amount"),
    [
        ("160000", 160_000),
        ("160,000", 160_000),
        ("$160,000", 160_000),
        (" 160 000 ", 160_000),
        ("0", 0),
        ("-0", 0),
        ("", None),
        ("١٦٠٠٠٠", 160_000),
        ("1000000000", 1_000_000_000),
    ],
)
def test_amounts_are_read_as_people_write_them(raw, amount):
    assert parse_amount(raw) == amount


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("-5", "cannot be negative"),
        ("1.5", "whole number"),
        ("1e9", "whole number"),
        ("16,00,00", "whole number"),
        ("²", "whole number"),
        ("1000000001", "more than $1,000,000,000"),
        ("9" * 5000, "too large"),
    ],
)
def test_bad_amounts_say_why(raw, says):
    with pytest.raises(AnswerError, match=None) as error:
        parse_amount(raw)
    assert says in str(error.value)


def test_yes_no_and_choices():
    assert [parse_yes_no(word) for word in ("Yes", "no", "TRUE", "0", "")] == [
        True,
        False,
        True,
        False,
        None,
    ]
    with pytest.raises(AnswerError):
        parse_yes_no("maybe")
    seen_as = assessment.BY_NAME["seen_as"]
    assert parse_answer(seen_as, "Architect") == "architect"
    assert parse_answer(seen_as, "") == ""
    with pytest.raises(AnswerError, match="not one of: architect, integrator"):
        parse_answer(seen_as, "wizard")


def test_the_one_validator():
    assert assessment.assessment_errors("engineer", engineer_answers()) == {}
    # Optional amounts may be blank; every other question of the track needs an answer.
    assert (
        assessment.assessment_errors("engineer", engineer_answers(annual_compensation=None)) == {}
    )
    assert assessment.assessment_errors("engineer", engineer_answers(seen_as="")) == {
        "seen_as": "Please answer this question."
    }
    # Nothing of the other track.
    errors = assessment.assessment_errors(
        "engineer", engineer_answers(monthly_recurring_revenue=5), track_name="AI engineer"
    )
    assert errors == {
        "monthly_recurring_revenue": "This question is not part of the AI engineer track."
    }
    assert assessment.assessment_errors(None, {}) == {"track": "Choose a track."}
    assert assessment.assessment_errors("pilot", {}) == {"track": "Choose a track."}
    founder = assessment.assessment_errors("founder", {})
    assert founder["monthly_recurring_revenue"].startswith("Enter your MRR")
    assert "monthly_api_cost" not in founder
    assert assessment.assessment_errors(
        "engineer", engineer_answers(annual_compensation=10**12)
    ) == {"annual_compensation": "Enter a whole number of US dollars from 0 to 1,000,000,000."}


def test_stored_answers_clear_the_other_track():
    stored = assessment.assessment_answers(
        "founder", {"monthly_recurring_revenue": 0, "annual_compensation": 9, "seen_as": "x"}
    )
    assert stored["monthly_recurring_revenue"] == 0
    assert stored["annual_compensation"] is None
    assert stored["seen_as"] == ""
    assert set(stored) == set(assessment.FIELDS)
    assert set(assessment.cleared_answers().values()) == {None, ""}


def test_each_track_has_exactly_one_currency_question():
    from learners import assessment

    for track in assessment.TRACKS:
        currency = [q.name for q in assessment.questions_of(track) if q.currency]
        assert currency == [assessment.CURRENCY[track]]
    assert assessment.CURRENCY == {
        "engineer": "annual_compensation",
        "founder": "monthly_recurring_revenue",
    }


def test_the_learner_model_declares_one_field_per_question_of_its_kind():
    from django.db import models

    from learners import assessment
    from learners.models import Learner

    expected = {
        assessment.Kind.AMOUNT: (models.PositiveBigIntegerField, True),
        assessment.Kind.YES_NO: (models.BooleanField, True),
        assessment.Kind.CHOICE: (models.CharField, False),
    }
    for question in assessment.QUESTIONS:
        field = Learner._meta.get_field(question.name)
        kind, null = expected[question.kind]
        assert type(field) is kind and (field.null, field.blank) == (null, True), question.name
        assert tuple(field.choices or ()) == question.choices, question.name
    declared = [f.name for f in Learner._meta.fields]
    answers = [name for name in declared if name in assessment.FIELDS]
    assert answers == list(assessment.FIELDS)  # in the questions' order, none missing
