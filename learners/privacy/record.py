"""A person's data as a record they can read (issue 19): their account, self-assessment,
level and its history, modules and keys by number, code and text, nudge emails by kind in
words, dates in their time zone. ``selectors.learner_data_export`` puts it in front of the
walk of every model that points at them (kept whole, so nothing is left out)."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from curriculum.models import Key, Module

from .. import assessment
from ..models import CompletionSource, KeyCompletion, Learner, LevelChange, ModuleProgress, User


def _zone(learner: Learner | None) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(learner.timezone if learner else "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _answer_words(question: assessment.Question, value) -> str | int | None:
    if value is None or value == "":
        return None
    if value is True:
        return question.yes
    if value is False:
        return question.no
    if question.choices:
        return dict(question.choices).get(value, value)
    return value


def _how(row) -> str:
    how = CompletionSource(row.source).label if row.source in CompletionSource else row.source
    return f"{how} ({row.via})" if row.via else how


def person_record(*, user: User, now: datetime) -> dict:
    """The readable part of a person's data export (JSON-ready)."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator

    from ..nudges.api import Nudge, NudgeKind, NudgePreference, NudgeStatus

    learner = Learner.objects.filter(user=user).select_related("track", "cohort").first()
    zone = _zone(learner)

    def when(moment: datetime | None) -> str | None:
        return moment.astimezone(zone).isoformat(timespec="seconds") if moment else None

    from curriculum.selectors import curriculum_rules

    rules = curriculum_rules()
    record: dict = {
        "about": (
            "Everything the Profit Pyramid course tracker holds about you. Dates are in your "
            "time zone, with its offset from UTC."
        ),
        "exported_at": when(now),
        "time_zone": zone.key,
        "account": {
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "joined": when(user.date_joined),
            "last_signed_in": when(user.last_login),
            "email_addresses": [
                {"address": a.email, "verified": a.verified, "primary": a.primary}
                for a in EmailAddress.objects.filter(user=user).order_by("pk")
            ],
            "two_factor": sorted(
                dict(Authenticator.Type.choices).get(kind, kind)
                for kind in Authenticator.objects.filter(user=user).values_list("type", flat=True)
            ),
        },
    }
    if learner is None:
        return record
    track = learner.track
    record["profile"] = {
        "track": track.name if track else None,
        "cohort": learner.cohort.name if learner.cohort else None,
        "level": {"number": learner.level, "name": rules.level_name(learner.level)},
        "placed_at": when(learner.placed_at),
        "last_progress_at": when(learner.last_activity_at),
    }
    record["self_assessment"] = {
        "submitted_at": when(learner.assessment_submitted_at),
        "answers": {
            question.label: _answer_words(question, getattr(learner, question.name))
            for question in assessment.questions_of(track.slug if track else None)
        }
        if learner.has_assessment
        else {},
    }
    titles = dict(Module.objects.values_list("pk", "title"))
    numbers = dict(Module.objects.values_list("pk", "number"))
    record["modules_completed"] = [
        {
            "module": numbers[row.module_id],
            "title": titles[row.module_id],
            "completed_at": when(row.completed_at),
            "how": _how(row),
        }
        for row in ModuleProgress.objects.filter(learner=learner).order_by("module__number")
    ]
    keys = {
        key.pk: key
        for key in Key.objects.filter(
            pk__in=KeyCompletion.objects.filter(learner=learner).values("key_id")
        ).select_related("level")
    }
    record["keys_completed"] = [
        {
            "code": keys[row.key_id].code,
            "text": keys[row.key_id].full_text,
            "level": keys[row.key_id].level.name,
            "completed_at": when(row.completed_at),
            "how": _how(row),
        }
        for row in KeyCompletion.objects.filter(learner=learner).order_by("completed_at", "pk")
    ]
    record["level_history"] = [
        {
            "when": when(change.changed_at),
            "what": "Started at"
            if change.is_placement
            else ("Moved up" if change.went_up else "Moved down"),
            "from": rules.level_name(change.from_level) if change.from_level else None,
            "to": rules.level_name(change.to_level),
            "reasons": list(change.reasons),
        }
        for change in LevelChange.objects.filter(learner=learner).order_by("changed_at", "pk")
    ]
    kinds, statuses = dict(NudgeKind.choices), dict(NudgeStatus.choices)
    record["nudge_emails"] = [
        {
            "kind": kinds.get(nudge.kind, nudge.kind),
            "status": statuses.get(nudge.status, nudge.status),
            "decided_at": when(nudge.created_at),
            "sent_at": when(nudge.sent_at),
        }
        for nudge in Nudge.objects.filter(learner=learner).order_by("created_at", "pk")
    ]
    preference = NudgePreference.objects.filter(learner=learner).first()
    record["nudge_preferences"] = {
        "nudges": "on" if learner.nudges_enabled else "all off",
        "kinds_off": [
            kinds.get(kind, kind) for kind in (preference.kinds_off if preference else [])
        ],
        "turned_all_off_at": when(preference.learner_opted_out_at) if preference else None,
    }
    return record
