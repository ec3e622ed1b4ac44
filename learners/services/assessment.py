"""The self-assessment's one write path (its questions and validation: learners.assessment)."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from curriculum.models import Track

from .. import assessment
from ..models import (
    Learner,
)
from ..nudges.api import learner_turn_nudges_on_or_off
from .levels import Recomputed, learners_touch, recompute_locked


def assessment_check(*, track: Track | None, answers: dict) -> None:
    """Raise ValidationError, by field, unless ``answers`` are a whole self-assessment of
    ``track`` (the rule and its messages: ``learners.assessment.assessment_errors``)."""
    errors = assessment.assessment_errors(
        track.slug if track else None, answers, track_name=track.name if track else ""
    )
    if errors:
        raise ValidationError(errors)


def assessment_apply(
    learner: Learner, *, track: Track | None, answers: dict, submitted: bool, now: datetime
) -> list[str]:
    """Put a self-assessment on ``learner`` in memory (the caller saves, one row or many):
    the track, its answers, the other track's answers cleared, the time it was first
    submitted. ``submitted=False`` clears every answer. Returns the fields that changed."""
    values = (
        assessment.assessment_answers(track.slug if track else None, answers)
        if submitted
        else assessment.cleared_answers()
    )
    values["assessment_submitted_at"] = (
        (learner.assessment_submitted_at or now) if submitted else None
    )
    changed = []
    if learner.track_id != (track.pk if track else None):
        learner.track = track
        changed.append("track")
    for name, value in values.items():
        if getattr(learner, name) != value:
            setattr(learner, name, value)
            changed.append(name)
    return changed


@transaction.atomic
def learner_set_assessment(
    *,
    learner: Learner,
    track: Track | None,
    answers: dict,
    submitted: bool = True,
    timezone_name: str | None = None,
    nudges_enabled: bool | None = None,
    now: datetime | None = None,
) -> Recomputed:
    """Save a self-assessment (or clear it with ``submitted=False``), with the learner's
    time zone and nudge choice when given, and recompute the level.

    Raises ValidationError (nothing saved) when the answers are not a whole self-assessment
    of the track.
    """
    if submitted:
        assessment_check(track=track, answers=answers)
    learner = Learner.objects.select_for_update().get(pk=learner.pk)
    now = now or timezone.now()
    assessment_apply(learner, track=track, answers=answers, submitted=submitted, now=now)
    if timezone_name is not None:
        learner.timezone = timezone_name
    learner.last_activity_at = now
    learner.full_clean(exclude=["user"])
    learner.save()
    if nudges_enabled is not None and nudges_enabled != learner.nudges_enabled:
        # The learner's own choice (only the learner's profile passes it): remembered, so
        # that an import or an instructor cannot turn nudges back on after "off".
        learner_turn_nudges_on_or_off(learner=learner, enabled=nudges_enabled, now=now)
    learners_touch(learner_ids=[learner.pk])
    # A first placement from a self-assessment is told by email: where they start and why.
    return recompute_locked(learner, now=now, tell_placement=True)
