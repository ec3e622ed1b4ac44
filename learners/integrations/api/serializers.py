"""What the API reads and writes. The learner's answers derive from the self-assessment's
declaration (``learners.assessment``), like every other form of it."""

from __future__ import annotations

from rest_framework import serializers

from ... import assessment
from ...models import Learner

ANSWER_HELP = "Blank or absent keeps the current answer (as in a roster import)."


def _answer_field(question: assessment.Question) -> serializers.Field:
    if question.kind is assessment.Kind.AMOUNT:
        return serializers.IntegerField(
            min_value=0,
            max_value=assessment.MAX_AMOUNT,
            required=False,
            allow_null=True,
            help_text=f"{question.label} (US dollars, {question.track} track). {ANSWER_HELP}",
        )
    if question.kind is assessment.Kind.YES_NO:
        return serializers.BooleanField(
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


class LearnerWriteSerializer(serializers.Serializer):
    """The roster's columns (without completions: those have their own endpoints)."""

    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    track = serializers.CharField(
        required=False, allow_blank=True, max_length=40, help_text="engineer or founder"
    )
    cohort = serializers.CharField(required=False, allow_blank=True, max_length=120)
    timezone = serializers.CharField(
        required=False, allow_blank=True, max_length=64, help_text="IANA name, e.g. Europe/Paris"
    )
    nudges_enabled = serializers.BooleanField(required=False, allow_null=True)

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


class DoneSerializer(serializers.Serializer):
    done = serializers.BooleanField(help_text="true: completed; false: not completed.")


class DoneStateSerializer(serializers.Serializer):
    email = serializers.EmailField()
    done = serializers.BooleanField()
    completed_at = serializers.DateTimeField(allow_null=True)
    source = serializers.CharField(allow_blank=True)
    level = serializers.IntegerField()
    level_name = serializers.CharField()
