"""Roster export: every learner of a queryset as roster CSV, a chunk at a time."""

from __future__ import annotations

import csv
from typing import IO

from curriculum.rules import CurriculumRules
from curriculum.selectors import curriculum_rules

from .. import assessment
from ..models import Learner
from ..selectors import progress_by_learner
from .columns import EXPORT_CHUNK_SIZE, EXPORT_COLUMNS, LIST_SEPARATOR, batched, guard


def roster_export(
    learners_queryset, stream: IO[str], *, chunk_size: int = EXPORT_CHUNK_SIZE
) -> int:
    """Write the learners of ``learners_queryset`` as roster CSV to ``stream``.

    Returns the number of learners written. Rows keep the queryset's order (by email when
    it has none). Only keys of the learner's own track that are ticked by hand are listed.
    """
    curriculum = curriculum_rules()
    listed_keys = hand_ticked_keys(curriculum)
    queryset = learners_queryset.select_related("user", "track", "cohort")
    if not queryset.ordered:
        queryset = queryset.order_by("user__email", "pk")
    writer = csv.writer(stream)
    writer.writerow(EXPORT_COLUMNS)
    written = 0
    for chunk in batched(queryset.iterator(chunk_size=chunk_size), chunk_size):
        progress = progress_by_learner([learner.pk for learner in chunk])
        for learner in chunk:
            track = learner.track.slug if learner.track_id else ""
            row = export_row(
                learner,
                track=track,
                modules=sorted(progress[learner.pk].completed_modules),
                keys=sorted(
                    code
                    for code in progress[learner.pk].completed_keys
                    if listed_keys.get(code) == track
                ),
                level_name=curriculum.level_name(learner.level),
            )
            writer.writerow([guard(cell) for cell in row])
            written += 1
    return written


def export_row(
    learner: Learner, *, track: str, modules: list[int], keys: list[str], level_name: str
) -> list[str]:
    user = learner.user
    submitted = learner.assessment_submitted_at is not None
    answers = {name: assessment.format_answer(getattr(learner, name)) for name in assessment.FIELDS}
    if not submitted:  # stale answers do not count until the self-assessment is submitted
        answers = dict.fromkeys(assessment.FIELDS, "")
    values = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "track": track,
        "cohort": learner.cohort.name if learner.cohort_id else "",
        "timezone": learner.timezone,
        **answers,
        "nudges_enabled": assessment.format_answer(learner.nudges_enabled),
        "completed_modules": LIST_SEPARATOR.join(str(number) for number in modules),
        "completed_keys": LIST_SEPARATOR.join(keys),
        "level": str(learner.level),
        "level_name": level_name,
    }
    return [values[column] for column in EXPORT_COLUMNS]


def hand_ticked_keys(curriculum: CurriculumRules) -> dict[str, str]:
    """Code -> track slug of every key ticked by hand (module-linked keys excluded)."""
    return {
        key.code: slug
        for slug, rules in curriculum.tracks.items()
        for keys in rules.keys.values()
        for key in keys
        if not key.module_linked
    }
