"""Reads for nudges, each a fixed number of queries whatever the size of the chunk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from allauth.account.models import EmailAddress
from django.db.models import Count, Max, OuterRef, Subquery

from curriculum.models import Level, TrackLevel
from curriculum.rules import CurriculumRules
from curriculum.selectors import curriculum_rules

from ..models import Learner
from ..placement import Placement, place
from ..selectors import learner_profile, progress_by_learner
from . import rules
from .models import Nudge, NudgeBudget, NudgeKind, NudgePreference, NudgeStatus
from .rules import LearnerFacts

FACT_FIELDS = (
    "pk",
    "user_id",
    "user__email",
    "timezone",
    "nudges_enabled",
    "assessment_submitted_at",
    "last_activity_at",
    "created_at",
)


NUDGE_DAYS = 7  # the instructors' dashboard and its "nudged" filter count this many days


@dataclass(frozen=True)
class NudgeFigure:
    kind: str
    kind_label: str
    status: str
    status_label: str
    count: int


def nudge_figures(now: datetime) -> tuple[NudgeFigure, ...]:
    """The dashboard's nudges of the last ``NUDGE_DAYS`` days by kind and status. One query."""
    return tuple(
        NudgeFigure(
            kind=row["kind"],
            kind_label=NudgeKind(row["kind"]).label if row["kind"] in NudgeKind else row["kind"],
            status=row["status"],
            status_label=(
                NudgeStatus(row["status"]).label if row["status"] in NudgeStatus else row["status"]
            ),
            count=row["n"],
        )
        for row in Nudge.objects.filter(created_at__gte=now - timedelta(days=NUDGE_DAYS))
        .order_by("kind", "status")
        .values("kind", "status")
        .annotate(n=Count("pk"))
    )


@dataclass(frozen=True)
class LastNudge:
    created_at: datetime
    kind: str
    status: str


def last_nudge_by_learner(learner_ids: list[int]) -> dict[int, LastNudge]:
    """A page of learners' latest nudge each (learners never nudged are absent). One query."""

    def latest(field: str) -> Subquery:
        return Subquery(
            Nudge.objects.filter(learner=OuterRef("pk")).order_by("-created_at").values(field)[:1]
        )

    rows = (
        Learner.objects.filter(pk__in=learner_ids)
        .order_by()
        .values_list("pk")
        .annotate(at=latest("created_at"), kind=latest("kind"), status=latest("status"))
    )
    return {pk: LastNudge(at, kind, status) for pk, at, kind, status in rows if at is not None}


def learners_for_sweep():
    """Learners with just the fields the rules read, in primary-key order (for chunking)."""
    return Learner.objects.order_by("pk").select_related("user").only(*FACT_FIELDS)


def verified_user_ids(emails: dict[int, str]) -> set[int]:
    """Of these users (id -> login address), those whose login address is a verified
    allauth address. One query, on the address table's user index (comparing in Python
    keeps the database from joining the whole user table)."""
    return {
        user_id
        for user_id, address in EmailAddress.objects.filter(
            user_id__in=list(emails), verified=True
        ).values_list("user_id", "email")
        if address.lower() == emails[user_id].lower()
    }


def last_nudges(learner_ids: Iterable[int]) -> dict[int, dict[str, datetime]]:
    """learner id -> kind -> when the latest nudge of that kind was created. One query."""
    latest: dict[int, dict[str, datetime]] = defaultdict(dict)
    rows = (
        Nudge.objects.filter(learner_id__in=list(learner_ids))
        .order_by()
        .values("learner_id", "kind")
        .annotate(last=Max("created_at"))
        .values_list("learner_id", "kind", "last")
    )
    for learner_id, kind, last in rows:
        latest[learner_id][kind] = last
    return latest


def preferences_of(learner_ids: Iterable[int]) -> dict[int, NudgePreference]:
    """learner id -> their nudge preferences, for those who set any. One query."""
    return {
        p.learner_id: p for p in NudgePreference.objects.filter(learner_id__in=list(learner_ids))
    }


def kinds_off_of(learner_ids: Iterable[int]) -> dict[int, frozenset[str]]:
    return {pk: frozenset(p.kinds_off) for pk, p in preferences_of(learner_ids).items()}


def learners_opted_out_themselves(learner_ids: Iterable[int]) -> set[int]:
    """Of these learners, those who turned every nudge off themselves: only they may turn
    nudges back on. One query."""
    return set(
        NudgePreference.objects.filter(
            learner_id__in=list(learner_ids), learner_opted_out_at__isnull=False
        ).values_list("learner_id", flat=True)
    )


def nudge_budget() -> rules.Budget:
    """The budget set in the admin, or the defaults. One query."""
    row = NudgeBudget.objects.filter(pk=NudgeBudget.singleton_instance_id).first()
    return row.as_rule() if row else rules.Budget()


def nudge_facts(learners: list[Learner]) -> list[LearnerFacts]:
    """The rules' inputs for a chunk of learners: three queries."""
    verified = verified_user_ids({learner.user_id: learner.user.email for learner in learners})
    latest = last_nudges(learner.pk for learner in learners)
    kinds_off = kinds_off_of(learner.pk for learner in learners)
    return [
        LearnerFacts(
            learner_id=learner.pk,
            signed_up_at=learner.created_at,
            timezone=learner.timezone,
            verified=learner.user_id in verified,
            nudges_enabled=learner.nudges_enabled,
            has_assessment=learner.assessment_submitted_at is not None,
            last_activity_at=learner.last_activity_at,
            last_nudge_at=dict(latest.get(learner.pk, {})),
            kinds_off=kinds_off.get(learner.pk, frozenset()),
        )
        for learner in learners
    ]


def chunk_placements(
    learners: list[Learner], curriculum: CurriculumRules | None = None
) -> dict[int, Placement]:
    """Placements of learners loaded with ``select_related("track")``: two queries."""
    curriculum = curriculum or curriculum_rules()
    progress = progress_by_learner([learner.pk for learner in learners])
    return {
        learner.pk: place(
            curriculum,
            learner_profile(learner, learner.track.slug if learner.track_id else None),
            progress[learner.pk],
        )
        for learner in learners
    }


def level_messages() -> dict[int, dict]:
    """Each level's targeting message from the curriculum: its promise, and its headline in
    each track's emails (``headlines``: track slug -> headline). Two queries."""
    headlines: dict[int, dict[str, str]] = defaultdict(dict)
    for number, slug, headline in TrackLevel.objects.values_list(
        "level__number", "track__slug", "headline"
    ):
        if headline:
            headlines[number][slug] = headline
    return {
        number: {"name": name, "headlines": headlines.get(number, {}), "promise": promise}
        for number, name, promise in Level.objects.values_list("number", "name", "promise")
    }
