"""The self-assessment form: validates what a learner typed, in their words."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from curriculum.models import SelfAssessmentQuestion, Track

from .models import Learner, SeenAs, available_timezones
from .services import OPTIONAL_FIELDS, TRACK_FIELDS

MAX_AMOUNT = 1_000_000_000

# Which field answers which of the document's questions ("Ask yourself", by order), so the
# wording comes from the curriculum as instructors edit it. Fields without a question (and
# the founders' question 2, which the site works out itself) keep their plain labels.
QUESTION_FIELDS = {
    "engineer": {
        1: "annual_compensation",
        2: "can_implement_from_scratch",
        3: "deployed_at_scale",
        4: "seen_as",
        5: "leads_initiatives",
    },
    "founder": {
        1: "monthly_api_cost",
        3: "owns_model_weights",
        4: "replicable_by_competitors",
        5: "investor_fundable",
    },
}
FOUNDER_SHARE_QUESTION = 2

# The "prefer not to say" box of each optional amount.
UNDISCLOSED = {name: f"{name}_undisclosed" for name in OPTIONAL_FIELDS}


class AmountField(forms.IntegerField):
    """Whole US dollars; "160,000" and "$160000" are read as 160000."""

    widget = forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"})
    default_error_messages = {
        "invalid": "Enter a whole number of US dollars, for example 160000.",
        "min_value": "The amount cannot be negative.",
        "max_value": "That is more than $1,000,000,000. Please check the figure.",
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(min_value=0, max_value=MAX_AMOUNT, required=False, **kwargs)

    def widget_attrs(self, widget):
        # Bounds are checked on the server with the messages above, not by the browser.
        attrs = super().widget_attrs(widget)
        attrs.pop("min", None)
        attrs.pop("max", None)
        return attrs

    def to_python(self, value):
        if isinstance(value, str):
            value = value.strip().replace(",", "").replace("$", "").replace(" ", "")
        return super().to_python(value)


def _yes_no(label: str, yes: str = "Yes", no: str = "No") -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        choices=[("yes", yes), ("no", no)],
        coerce=lambda value: value == "yes",
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
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

    # Engineers.
    annual_compensation = AmountField(label="Annual total compensation")
    annual_compensation_undisclosed = forms.BooleanField(label="Prefer not to say", required=False)
    can_explain_concepts = _yes_no("Can you explain how MoE, MLA and FP8 work?")
    can_implement_from_scratch = _yes_no("Can you implement MoE or MLA from scratch?")
    deployed_at_scale = _yes_no("Have you deployed a production system at scale?")
    seen_as = forms.ChoiceField(
        label="How do interviewers see you?",
        choices=SeenAs.choices,
        required=False,
        widget=forms.RadioSelect,
    )
    leads_initiatives = _yes_no(
        "Do you lead AI initiatives?", yes="I lead initiatives", no="I mostly use APIs"
    )

    # Founders.
    monthly_recurring_revenue = AmountField(
        label="Monthly recurring revenue (MRR)",
        help_text="In US dollars; enter 0 if you have no revenue yet.",
    )
    monthly_api_cost = AmountField(label="Monthly API costs")
    monthly_api_cost_undisclosed = forms.BooleanField(label="Prefer not to say", required=False)
    owns_model_weights = _yes_no(
        "Do you own model weights?", yes="I own model weights", no="I rent capability"
    )
    replicable_by_competitors = _yes_no("Could competitors replicate your product?")
    investor_fundable = _yes_no("Would investors fund your own technology?")

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
        self.fields["timezone"].choices = [(zone, zone) for zone in sorted(available_timezones())]
        self.tracks = list(self.fields["track"].queryset)
        questions = {
            (q.track.slug, q.order): q.text
            for q in SelfAssessmentQuestion.objects.select_related("track")
        }
        for track in self.tracks:
            for order, name in QUESTION_FIELDS.get(track.slug, {}).items():
                if (track.slug, order) in questions:
                    self.fields[name].label = questions[(track.slug, order)]
            # Help texts are shown as HTML: escape the curriculum's words (instructors edit them).
            if track.slug == "engineer":
                self.fields["annual_compensation"].help_text = format_html(
                    "Your {} in US dollars, a whole number.", track.currency_metric
                )
            if track.slug == "founder" and ("founder", FOUNDER_SHARE_QUESTION) in questions:
                self.fields["monthly_api_cost"].help_text = format_html(
                    "In US dollars. {} We work that out for you from your MRR and API costs.",
                    questions[("founder", FOUNDER_SHARE_QUESTION)],
                )

    @classmethod
    def for_learner(cls, learner: Learner, data=None) -> SelfAssessmentForm:
        initial = {"timezone": learner.timezone, "nudges_enabled": learner.nudges_enabled}
        if learner.has_assessment and learner.track is not None:
            initial["track"] = learner.track.slug
            for name in TRACK_FIELDS.get(learner.track.slug, ()):
                value = getattr(learner, name)
                if isinstance(value, bool):
                    value = "yes" if value else "no"
                initial[name] = value
                if name in UNDISCLOSED:
                    initial[UNDISCLOSED[name]] = value is None
        return cls(data=data, initial=initial)

    def track_groups(self) -> list[tuple[Track, list[forms.BoundField]]]:
        """Each track with its questions, in the form's order, for the template."""
        groups = []
        for track in self.tracks:
            names = []
            for name in TRACK_FIELDS.get(track.slug, ()):
                names.append(name)
                if name in UNDISCLOSED:
                    names.append(UNDISCLOSED[name])
            groups.append((track, [self[name] for name in names]))
        return groups

    def clean(self):
        data = super().clean()
        track = data.get("track")
        if track is None:
            return data
        mine = TRACK_FIELDS.get(track.slug, ())
        # Only the chosen track's questions count: whatever the other group holds (it is on
        # the page when JavaScript is off) is neither validated nor kept.
        for other in (t for t in TRACK_FIELDS if t != track.slug):
            for name in TRACK_FIELDS[other]:
                for field in (name, UNDISCLOSED.get(name)):
                    if field:
                        self._errors.pop(field, None)
                        data.pop(field, None)
        for name in mine:
            if name in self._errors:
                continue
            value = data.get(name)
            if name in UNDISCLOSED:
                undisclosed = data.get(UNDISCLOSED[name])
                if undisclosed and value is not None:
                    self.add_error(name, "Leave the amount empty when you prefer not to say.")
                elif not undisclosed and value is None:
                    self.add_error(name, "Enter the amount, or tick “Prefer not to say”.")
            elif value is None or value == "":
                if name == "monthly_recurring_revenue":
                    self.add_error(name, "Enter your MRR in US dollars (0 if pre-revenue).")
                else:
                    self.add_error(name, "Please answer this question.")
        return data

    def answers(self) -> dict:
        """The chosen track's answers, as ``learner_update_profile`` takes them."""
        track = self.cleaned_data["track"]
        return {name: self.cleaned_data.get(name) for name in TRACK_FIELDS.get(track.slug, ())}

    def add_service_errors(self, error: ValidationError) -> None:
        """Errors the service found (it checks again) shown next to their fields."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for name, errors in error.error_dict.items():
            self.add_error(name if name in self.fields else None, errors)
