"""The preference form: one switch per nudge kind, plus "all nudges off"."""

from __future__ import annotations

from django import forms

from .models import NudgeKind


class NudgePreferencesForm(forms.Form):
    all_off = forms.BooleanField(required=False, label="Turn all nudges off")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for kind in NudgeKind:
            self.fields[f"kind_{kind.value}"] = forms.BooleanField(required=False, label=kind.label)

    @classmethod
    def initial_for(cls, enabled: bool, kinds_off) -> NudgePreferencesForm:
        initial = {f"kind_{kind.value}": kind.value not in kinds_off for kind in NudgeKind}
        initial["all_off"] = not enabled
        return cls(initial=initial)

    def kind_fields(self):
        return [self[f"kind_{kind.value}"] for kind in NudgeKind]

    def enabled(self) -> bool:
        return not self.cleaned_data["all_off"]

    def kinds_off(self) -> list[str]:
        return [kind.value for kind in NudgeKind if not self.cleaned_data[f"kind_{kind.value}"]]
