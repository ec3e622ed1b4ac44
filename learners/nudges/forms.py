"""The preference form: one switch per kind a learner can choose, plus "all nudges off".

Kinds sent at most once (the welcome, the self-assessment reminder, where you start) are not
offered: there is nothing to choose about them once they went out; "all off" stops them too.
"""

from __future__ import annotations

from django import forms

from . import rules
from .models import NudgeKind

# What each offered kind is, in the learner's words.
CHOICE_HELP = {
    rules.NEXT_STEP: "Your next step, when a week goes by without progress.",
    rules.LEVEL_UP: "When you move up a level, with what it opens.",
}
CHOOSABLE = tuple(kind for kind in NudgeKind if kind.value not in rules.ONE_TIME_KINDS)


class NudgePreferencesForm(forms.Form):
    all_off = forms.BooleanField(
        required=False,
        label="Turn all nudges off",
        help_text="No nudge email at all, whatever is ticked above.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        fields = {
            f"kind_{kind.value}": forms.BooleanField(
                required=False, label=kind.label, help_text=CHOICE_HELP.get(kind.value, "")
            )
            for kind in CHOOSABLE
        }
        # The kinds first, "all off" last.
        self.fields = {**fields, "all_off": self.fields["all_off"]}

    @classmethod
    def initial_for(cls, enabled: bool, kinds_off) -> NudgePreferencesForm:
        """What the learner gets now: with nudges off, no kind is ticked."""
        initial = {
            f"kind_{kind.value}": enabled and kind.value not in kinds_off for kind in CHOOSABLE
        }
        initial["all_off"] = not enabled
        return cls(initial=initial)

    def kind_fields(self):
        return [self[f"kind_{kind.value}"] for kind in CHOOSABLE]

    def enabled(self) -> bool:
        return not self.cleaned_data["all_off"]

    def kinds_off(self, previous=()) -> list[str]:
        """The kinds turned off. With "all off" ticked the boxes are not read (they show no
        kind while everything is off): the earlier per-kind choices are kept."""
        if not self.enabled():
            return [kind for kind in previous if kind in {k.value for k in CHOOSABLE}]
        return [kind.value for kind in CHOOSABLE if not self.cleaned_data[f"kind_{kind.value}"]]
