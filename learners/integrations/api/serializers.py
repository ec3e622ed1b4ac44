"""What the API reads and writes. The learner's answers derive from the self-assessment's
declaration (``learners.assessment``), like every other form of it."""

from __future__ import annotations

import re
from collections.abc import Mapping

from rest_framework import serializers

from curriculum.selectors import curriculum_rules

from ... import assessment
from ...models import Learner
from ..selectors import cohort_exists

ANSWER_HELP = "Blank or absent keeps the current answer (as in a roster import)."


# A body with a field the endpoint does not know is refused (a typo is never silently
# ignored); the schema says so with additionalProperties: false (api/schema.py). A comment,
# not a docstring: drf-spectacular would show it as each body's description.
class StrictSerializer(serializers.Serializer):
    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, Mapping):
            unknown = {name: ["Unknown field."] for name in sorted(set(data) - set(self.fields))}
        try:
            values = super().to_internal_value(data)
        except serializers.ValidationError as invalid:
            if unknown and isinstance(invalid.detail, dict):
                raise serializers.ValidationError({**unknown, **invalid.detail}) from invalid
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return values


class QueryIntegerField(serializers.IntegerField):
    """A whole number in a query string, in digits: DRF's field also takes "1.0"."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or not re.fullmatch(r"-?[0-9]{1,18}", data):
            self.fail("invalid")
        return super().to_internal_value(data)


class JsonIntegerField(serializers.IntegerField):
    """A JSON number that is whole: DRF's field also takes the string "100"."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class JsonCharField(serializers.CharField):
    """A JSON string: DRF's field also takes a number and makes it text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class JsonBooleanField(serializers.BooleanField):
    """A JSON ``true`` or ``false``, nothing else: DRF's field also takes "yes", 1, "on"
    and "true", which the schema (``type: boolean``) does not allow."""

    default_error_messages = {"invalid": "Must be a JSON boolean: true or false."}

    def to_internal_value(self, data):
        if data is True or data is False:
            return data
        self.fail("invalid")


def _answer_field(question: assessment.Question) -> serializers.Field:
    if question.kind is assessment.Kind.AMOUNT:
        return JsonIntegerField(
            min_value=0,
            max_value=assessment.MAX_AMOUNT,
            required=False,
            allow_null=True,
            help_text=f"{question.label} (US dollars, {question.track} track). {ANSWER_HELP}",
        )
    if question.kind is assessment.Kind.YES_NO:
        return JsonBooleanField(
            required=False,
            allow_null=True,
            help_text=f"{question.label} ({question.track} track). {ANSWER_HELP}",
        )
    return serializers.ChoiceField(
        choices=[value for value, _ in question.choices],
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text=f"{question.label} ({question.track} track). {ANSWER_HELP}",
    )


class LearnerWriteSerializer(StrictSerializer):
    """The roster's columns (without completions: those have their own endpoints)."""

    first_name = JsonCharField(required=False, allow_blank=True, max_length=150)
    last_name = JsonCharField(required=False, allow_blank=True, max_length=150)
    track = JsonCharField(
        required=False, allow_blank=True, max_length=40, help_text="engineer or founder"
    )
    cohort = JsonCharField(required=False, allow_blank=True, max_length=120)
    timezone = JsonCharField(
        required=False, allow_blank=True, max_length=64, help_text="IANA name, e.g. Europe/Paris"
    )
    nudges_enabled = JsonBooleanField(required=False, allow_null=True)

    def to_roster_values(self, email: str) -> dict[str, str]:
        """The validated values as roster cells (text), read by the roster's parser."""
        values = {"email": email}
        for name, value in self.validated_data.items():
            if value is None:
                values[name] = ""
            elif isinstance(value, bool):
                values[name] = "yes" if value else "no"
            else:
                values[name] = str(value)
        return values


for _question in assessment.QUESTIONS:
    LearnerWriteSerializer._declared_fields[_question.name] = _answer_field(_question)


class LearnerSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    first_name = serializers.CharField(source="user.first_name")
    last_name = serializers.CharField(source="user.last_name")
    track = serializers.SerializerMethodField()
    cohort = serializers.SerializerMethodField()
    has_assessment = serializers.BooleanField()

    class Meta:
        model = Learner
        fields = [
            "email",
            "first_name",
            "last_name",
            "track",
            "cohort",
            "timezone",
            "level",
            "level_changed_at",
            "last_activity_at",
            "nudges_enabled",
            "has_assessment",
        ]

    def get_track(self, learner: Learner) -> str | None:
        return learner.track.slug if learner.track_id else None

    def get_cohort(self, learner: Learner) -> str | None:
        return learner.cohort.name if learner.cohort_id else None


class LearnerPageSerializer(serializers.Serializer):
    """A page of learners; follow ``next`` (a cursor) until it is null."""

    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = LearnerSerializer(many=True)


class UpsertedSerializer(serializers.Serializer):
    created = serializers.BooleanField()
    changes = serializers.ListField(child=serializers.CharField())
    learner = LearnerSerializer()


class OpenKeySerializer(serializers.Serializer):
    code = serializers.CharField()
    text = serializers.CharField()


class NextStepsSerializer(serializers.Serializer):
    level = serializers.IntegerField()
    modules = serializers.ListField(child=serializers.IntegerField())
    open_keys = OpenKeySerializer(many=True)
    keys_needed = serializers.IntegerField()
    maintaining = serializers.BooleanField()
    gate_amount = serializers.IntegerField(allow_null=True)


class PlacementSerializer(serializers.Serializer):
    email = serializers.EmailField()
    track = serializers.CharField(allow_null=True)
    level = serializers.IntegerField(min_value=1, max_value=4)
    level_name = serializers.CharField()
    reasons = serializers.ListField(child=serializers.CharField())
    next_steps = NextStepsSerializer()
    completed_modules = serializers.ListField(child=serializers.IntegerField())
    completed_keys = serializers.ListField(child=serializers.CharField())


class DoneSerializer(StrictSerializer):
    """Completed or not: the one field, a JSON boolean."""

    done = JsonBooleanField(help_text="true: completed; false: not completed (a JSON boolean).")


class DoneStateSerializer(serializers.Serializer):
    email = serializers.EmailField()
    done = serializers.BooleanField()
    completed_at = serializers.DateTimeField(allow_null=True)
    source = serializers.CharField(allow_blank=True)
    level = serializers.IntegerField()
    level_name = serializers.CharField()


class LearnerFilterSerializer(serializers.Serializer):
    cohort = serializers.CharField(
        required=False,
        max_length=120,
        help_text="A cohort's name, exactly; a name no cohort has is refused (400).",
    )
    track = serializers.CharField(
        required=False,
        max_length=40,
        help_text="A track's slug: engineer or founder; any other value is refused (400).",
    )
    level = QueryIntegerField(required=False, min_value=1, max_value=4)
    active_within_days = QueryIntegerField(
        required=False, min_value=0, max_value=3650, help_text="Active in the last N days"
    )
    inactive_days = QueryIntegerField(
        required=False, min_value=0, max_value=3650, help_text="No activity for N days or more"
    )

    def validate_cohort(self, name: str) -> str:
        if not cohort_exists(name):
            raise serializers.ValidationError(f"No cohort is named “{name}”.")
        return name

    def validate_track(self, slug: str) -> str:
        tracks = sorted(curriculum_rules().tracks)
        if slug not in tracks:
            raise serializers.ValidationError(
                f"There is no track “{slug}”; the tracks are {', '.join(tracks)}."
            )
        return slug


# The list's filters by name (the query's other parameters choose the page).
LEARNER_FILTERS = frozenset(LearnerFilterSerializer().fields)


class LearnerQuerySerializer(LearnerFilterSerializer):
    """The list's query string: the filters and the page."""

    cursor = serializers.CharField(
        required=False,
        max_length=1000,
        help_text="Where the page starts: take it from the previous page's `next` link.",
    )
    page_size = QueryIntegerField(
        required=False, min_value=1, max_value=500, help_text="Learners per page (default 100)."
    )
