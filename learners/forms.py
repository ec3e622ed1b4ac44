"""The self-assessment form: its questions come from ``learners.assessment``, their wording
from the curriculum as instructors edit it."""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from curriculum.models import SelfAssessmentQuestion, Track

from . import assessment
from .assessment import Kind, Question
from .models import Learner
from .timezones import timezone_aliases, timezone_choices


def undisclosed(name: str) -> str:
    """The "prefer not to say" box of an optional amount."""
    return f"{name}_undisclosed"


class AmountField(forms.CharField):
    """Whole US dollars as people write them ("160,000", "$160000"), read by the same
    parser as the roster's."""

    widget = forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"})

    def __init__(self, **kwargs) -> None:
        super().__init__(required=False, **kwargs)

    def to_python(self, value):
        text = super().to_python(value)
        try:
            return assessment.parse_amount(text)
        except assessment.AnswerError as error:
            raise ValidationError(str(error), code="invalid") from error


def answer_field(question: Question) -> forms.Field:
    """The form field of a question (the curriculum's wording is set per form)."""
    if question.kind is Kind.AMOUNT:
        return AmountField(label=question.label)
    if question.kind is Kind.YES_NO:
        return forms.TypedChoiceField(
            label=question.label,
            choices=[("yes", question.yes), ("no", question.no)],
            coerce=lambda value: value == "yes",
            empty_value=None,
            required=False,
            widget=forms.RadioSelect,
        )
    return forms.ChoiceField(
        label=question.label, choices=question.choices, required=False, widget=forms.RadioSelect
    )


class SelfAssessmentForm(forms.Form):
    track = forms.ModelChoiceField(
        label="Which track are you on?",
        queryset=Track.objects.order_by("order", "slug"),
        to_field_name="slug",
        empty_label=None,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose your track first.",
            "invalid_choice": "Choose one of the tracks listed.",
        },
    )
    timezone = forms.ChoiceField(
        label="Your time zone",
        help_text="Emails arrive in the morning of this time zone.",
        error_messages={
            "required": "Choose your time zone.",
            "invalid_choice": "“%(value)s” is not a known time zone. Choose one from the list.",
        },
    )
    nudges_enabled = forms.BooleanField(
        label="Email me my next step now and then",
        help_text="At most one next-step email a week; you can unsubscribe from any email.",
        required=False,
    )

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = timezone_choices(current=self.initial.get("timezone"))
        # The browser may detect an alias (Asia/Calcutta); site.js selects its zone instead.
        self.fields["timezone"].widget.attrs["data-timezone-aliases"] = json.dumps(
            timezone_aliases(), separators=(",", ":")
        )
        self.tracks = list(self.fields["track"].queryset)
        metrics = {track.slug: track.currency_metric for track in self.tracks}
        wording = {
            (q.track.slug, q.order): q.text
            for q in SelfAssessmentQuestion.objects.select_related("track")
        }
        for question in assessment.QUESTIONS:
            field = self.fields[question.name] = answer_field(question)
            field.label = wording.get((question.track, question.document_question), field.label)
            # Help texts are shown as HTML: escape the curriculum's words (instructors edit them).
            if question.help_text:
                field.help_text = format_html(
                    question.help_text.replace("{metric}", "{}"), metrics.get(question.track, "")
                )
            if question.optional:
                self.fields[undisclosed(question.name)] = forms.BooleanField(
                    label="Prefer not to say", required=False
                )
        last = ["timezone", "nudges_enabled"]
        self.order_fields([*(name for name in self.fields if name not in last), *last])
        share = wording.get(("founder", assessment.FOUNDER_SHARE_QUESTION))
        if share:
            self.fields["monthly_api_cost"].help_text = format_html(
                "{} {} We work that out for you from your MRR and API costs.",
                self.fields["monthly_api_cost"].help_text,
                share,
            )

    @classmethod
    def for_learner(cls, learner: Learner, data=None) -> SelfAssessmentForm:
        initial = {"timezone": learner.timezone, "nudges_enabled": learner.nudges_enabled}
        if learner.has_assessment and learner.track is not None:
            initial["track"] = learner.track.slug
            for question in assessment.questions_of(learner.track.slug):
                value = getattr(learner, question.name)
                if isinstance(value, bool):
                    value = "yes" if value else "no"
                initial[question.name] = value
                if question.optional:
                    initial[undisclosed(question.name)] = value is None
        return cls(data=data, initial=initial)

    def track_groups(self) -> list[tuple[Track, list[forms.BoundField]]]:
        """Each track with its questions, in the form's order, for the template."""
        groups = []
        for track in self.tracks:
            names = []
            for question in assessment.questions_of(track.slug):
                names.append(question.name)
                if question.optional:
                    names.append(undisclosed(question.name))
            groups.append((track, [self[name] for name in names]))
        return groups

    def clean(self):
        data = super().clean()
        track = data.get("track")
        if track is None:
            return data
        # Only the chosen track's questions count: whatever the other group holds (it is on
        # the page when JavaScript is off) is neither validated nor kept.
        for question in assessment.QUESTIONS:
            if question.track != track.slug:
                for name in (question.name, undisclosed(question.name)):
                    self._errors.pop(name, None)
                    data.pop(name, None)
        for question in assessment.questions_of(track.slug):
            if question.optional and question.name not in self._errors:
                value, box = data.get(question.name), data.get(undisclosed(question.name))
                if box and value is not None:
                    self.add_error(
                        question.name, "Leave the amount empty when you prefer not to say."
                    )
                elif not box and value is None:
                    self.add_error(question.name, "Enter the amount, or tick “Prefer not to say”.")
        answers = self.answers()
        for name, message in assessment.assessment_errors(
            track.slug, answers, track_name=track.name
        ).items():
            if name not in self._errors:
                self.add_error(name if name in self.fields else None, message)
        return data

    def answers(self) -> dict:
        """The chosen track's answers, as ``learner_set_assessment`` takes them."""
        track = self.cleaned_data["track"]
        return {
            question.name: self.cleaned_data.get(question.name)
            for question in assessment.questions_of(track.slug)
        }

    def add_service_errors(self, error: ValidationError) -> None:
        """Errors the service found (it checks again) shown next to their fields."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for name, errors in error.error_dict.items():
            self.add_error(name if name in self.fields else None, errors)


class AccountNameForm(forms.Form):
    """The name on the account page: the first name is what emails greet the learner by."""

    first_name = forms.CharField(
        label="First name",
        max_length=150,
        error_messages={"required": "Tell us your first name."},
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label="Last name",
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )

    def clean_first_name(self) -> str:
        name = " ".join(self.cleaned_data["first_name"].split())
        if not name:
            raise forms.ValidationError("Tell us your first name.")
        return name
