"""Reads for the insights page and the student's pace, in a fixed number of queries; and the
learner sets behind each figure, which the learner list's filters use (one home each)."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from curriculum.models import Key, Level, Track
from curriculum.selectors import curriculum_rules

from ..models import Cohort, KeyCompletion, Learner, LevelChange, ModuleProgress
from ..placement import Progress, done_keys
from ..selectors import INACTIVE_DAYS, inactive_since_q
from .pace import WINDOW_DAYS, Pace, pace_estimate
from .rules import (
    KEY_PREFIX,
    LEVELS,
    MODULE_PREFIX,
    Course,
    Journey,
    LevelFunnel,
    ModuleRow,
    NeverStarted,
    StuckPoint,
    level_funnel,
    level_funnels_by_cohort,
    module_funnel,
    never_started,
    stuck_point_of,
    stuck_points,
)

NO_COHORT = "No cohort"


# --- the learner sets (the list's filters and the page's actions use these) --------------


def learners_in_scope(
    *,
    track_id: int | None,
    cohort_id: int | None = None,
    joined_from: date | None = None,
    joined_to: date | None = None,
) -> QuerySet[Learner]:
    """The learners of a track, of one cohort (when given), who joined between the dates
    (inclusive, in the site's time zone)."""
    learners = Learner.objects.filter(track_id=track_id)
    if cohort_id is not None:
        learners = learners.filter(cohort_id=cohort_id)
    return learners_joined(learners, joined_from, joined_to)


def learners_joined(queryset: QuerySet[Learner], joined_from: date | None, joined_to: date | None):
    zone = timezone.get_default_timezone()
    if joined_from is not None:
        queryset = queryset.filter(
            created_at__gte=datetime.combine(joined_from, time.min, tzinfo=zone)
        )
    if joined_to is not None:
        queryset = queryset.filter(
            created_at__lt=datetime.combine(joined_to + timedelta(days=1), time.min, tzinfo=zone)
        )
    return queryset


def _has_module() -> Exists:
    return Exists(ModuleProgress.objects.filter(learner=OuterRef("pk")))


def _has_key() -> Exists:
    return Exists(KeyCompletion.objects.filter(learner=OuterRef("pk")))


def learners_never_started(queryset: QuerySet[Learner], which: str = "never") -> QuerySet:
    """``never``: no self-assessment or nothing ticked; ``no_assessment``; ``no_tick``
    (assessed, nothing ticked); ``started``: assessed and something ticked."""
    no_assessment = Q(assessment_submitted_at__isnull=True)
    no_tick = Q(assessment_submitted_at__isnull=False) & ~Q(_has_module()) & ~Q(_has_key())
    conditions = {
        "never": no_assessment | no_tick,
        "no_assessment": no_assessment,
        "no_tick": no_tick,
        "started": Q(assessment_submitted_at__isnull=False) & (Q(_has_module()) | Q(_has_key())),
    }
    if which not in conditions:
        return queryset.none()
    return queryset.filter(conditions[which])


def learners_at_risk(queryset: QuerySet[Learner], now: datetime | None = None) -> QuerySet:
    """Started (assessed, something ticked) and without progress for ``INACTIVE_DAYS``."""
    cutoff = (now or timezone.now()) - timedelta(days=INACTIVE_DAYS)
    return learners_never_started(queryset, "started").filter(inactive_since_q(cutoff))


def learners_stuck_at(
    queryset: QuerySet[Learner], code: str, now: datetime | None = None
) -> QuerySet[Learner]:
    """Exactly the learners of a stuck point (``rules.stuck_point_of``): ``m4`` = inactive,
    furthest module finished 4; ``k<key code>`` = inactive, no module, furthest key of their
    level ticked is that key. An unknown code matches nobody."""
    cutoff = (now or timezone.now()) - timedelta(days=INACTIVE_DAYS)
    stuck = queryset.filter(inactive_since_q(cutoff), assessment_submitted_at__isnull=False)
    # NOT EXISTS, never NOT IN: PostgreSQL plans the first as an anti-join; the second (NULL
    # semantics) as a subplan that, once too big to hash, runs once per learner.
    modules = ModuleProgress.objects.filter(learner=OuterRef("pk"))
    if code.startswith(MODULE_PREFIX) and code[1:].isascii() and code[1:].isdigit():
        number = int(code[1:]) if len(code) <= 3 else 0
        return stuck.filter(
            Exists(modules.filter(module__number=number)),
            ~Exists(modules.filter(module__number__gt=number)),
        )
    if code.startswith(KEY_PREFIX):
        key = (
            Key.objects.filter(code=code[1:])
            .values("pk", "track_id", "level_id", "level__number", "order")
            .first()
        )
        if key is not None:
            keys = KeyCompletion.objects.filter(learner=OuterRef("pk"))
            later = keys.filter(
                key__track_id=key["track_id"],
                key__level_id=key["level_id"],
                key__order__gt=key["order"],
            )
            return stuck.filter(
                Exists(keys.filter(key_id=key["pk"])),
                ~Exists(modules),
                ~Exists(later),
                track_id=key["track_id"],
                level=key["level__number"],
            )
    return queryset.none()


# --- the figures -------------------------------------------------------------------------


def insights_course(track_slug: str) -> Course:
    rules = curriculum_rules()
    track = rules.tracks.get(track_slug)
    keys = track.keys if track else {}
    return Course(
        level_names=dict(rules.level_names),
        module_titles=dict(sorted(rules.module_titles.items())),
        keys={
            level: tuple((key.code, key.text) for key in keys.get(level, ())) for level in LEVELS
        },
    )


def insights_journeys(queryset: QuerySet[Learner], now: datetime) -> list[Journey]:
    """Every learner of ``queryset`` as a ``Journey``: four set-wise queries (the learners,
    their level changes, their furthest module, their furthest key per level), whatever
    their number or history; joined here rather than by a subquery per learner, which cost
    seven index probes per learner."""
    cutoff = now - timedelta(days=INACTIVE_DAYS)
    learners = queryset.order_by().annotate(
        inactive=Case(
            When(inactive_since_q(cutoff), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )
    scope = queryset.order_by().values("pk")
    changes: dict[int, list[tuple[datetime, int, int]]] = {}
    for pk, learner_id, changed_at, to_level in (
        LevelChange.objects.filter(learner__in=scope)
        .order_by()
        .values_list("pk", "learner_id", "changed_at", "to_level")
    ):
        changes.setdefault(learner_id, []).append((changed_at, pk, to_level))
    furthest_module = dict(
        ModuleProgress.objects.filter(learner__in=scope)
        .order_by()
        .values_list("learner_id")
        .annotate(furthest=Max("module__number"))
    )
    # The furthest key (in the level's order) of each level a learner ticked keys of.
    furthest_order: dict[int, dict[int, int]] = {}
    for learner_id, level, order in (
        KeyCompletion.objects.filter(learner__in=scope)
        .order_by()
        .values_list("learner_id", "key__level__number")
        .annotate(furthest=Max("key__order"))
    ):
        furthest_order.setdefault(learner_id, {})[level] = order
    key_codes = dict(
        (((track, level, order), code))
        for track, level, order, code in Key.objects.values_list(
            "track_id", "level__number", "order", "code"
        )
    )
    journeys = []
    for pk, cohort_id, track_id, level, submitted_at, inactive in learners.values_list(
        "pk", "cohort_id", "track_id", "level", "assessment_submitted_at", "inactive"
    ):
        history = sorted(changes.get(pk, ()))
        placed_level = reached_at = None
        if submitted_at is not None:
            # Every learner starts at level 1: no change by placement means placed at 1.
            before = [to_level for at, _, to_level in history if at <= submitted_at]
            placed_level = before[-1] if before else 1
            reached_at = {}
            for at, _, to_level in history:
                if at > submitted_at:
                    for reached in range(2, to_level + 1):
                        reached_at.setdefault(reached, at)
        orders = furthest_order.get(pk, {})
        key_order = orders.get(level)
        journeys.append(
            Journey(
                learner_id=pk,
                cohort_id=cohort_id,
                level=level,
                placed_level=placed_level,
                placed_at=submitted_at,
                reached_at=reached_at or {},
                furthest_module=furthest_module.get(pk),
                furthest_key=None
                if key_order is None
                else key_codes.get((track_id, level, key_order)),
                ticked=pk in furthest_module or bool(orders),
                inactive=bool(inactive),
            )
        )
    return journeys


@dataclass(frozen=True)
class TargetingRow:
    level: int
    name: str
    learners: int
    pain: str
    promise: str
    offer: str


@dataclass(frozen=True)
class Insights:
    now: datetime
    track_id: int
    track_name: str
    learners: int
    funnel: LevelFunnel  # every learner of the scope
    cohorts: list[LevelFunnel]  # side by side (only when no cohort is chosen)
    modules: list[ModuleRow]
    stuck: list[StuckPoint]
    stuck_learners: int  # every stuck learner, not only the five points shown
    at_risk: int
    never_started: NeverStarted
    targeting: list[TargetingRow]
    inactive_days: int = INACTIVE_DAYS


def insights_figures(
    *,
    track: Track,
    cohort_id: int | None = None,
    joined_from: date | None = None,
    joined_to: date | None = None,
    now: datetime | None = None,
) -> Insights:
    """The insights of one track: eight queries (plus the cached curriculum), whatever the
    number of learners or their history."""
    now = now or timezone.now()
    scope = learners_in_scope(
        track_id=track.pk, cohort_id=cohort_id, joined_from=joined_from, joined_to=joined_to
    )
    course = insights_course(track.slug)
    journeys = insights_journeys(scope, now)
    finished = dict(
        ModuleProgress.objects.filter(learner__in=scope)
        .order_by()
        .values_list("module__number")
        .annotate(n=Count("pk"))
    )
    cohort_names: dict[int | None, str] = {}
    if cohort_id is None:
        cohort_names = dict(Cohort.objects.order_by("start_date", "name").values_list("pk", "name"))
        cohort_names[None] = NO_COHORT
    levels = Level.objects.order_by("number").values_list(
        "number", "name", "pain", "promise", "offer"
    )
    at_level: dict[int, int] = {}
    for journey in journeys:
        at_level[journey.level] = at_level.get(journey.level, 0) + 1
    return Insights(
        now=now,
        track_id=track.pk,
        track_name=track.name,
        learners=len(journeys),
        funnel=level_funnel(journeys, course, label="All"),
        cohorts=level_funnels_by_cohort(journeys, course, cohort_names) if cohort_names else [],
        modules=module_funnel(journeys, course, finished),
        stuck=stuck_points(journeys, course),
        stuck_learners=sum(1 for j in journeys if stuck_point_of(j, course) is not None),
        at_risk=sum(1 for j in journeys if j.inactive and j.started and j.ticked),
        never_started=never_started(journeys),
        targeting=[
            TargetingRow(number, name, at_level.get(number, 0), pain, promise, offer)
            for number, name, pain, promise, offer in levels
        ],
    )


# --- the student's pace ------------------------------------------------------------------


def learner_pace(
    learner: Learner,
    *,
    remaining: int | None = None,
    now: datetime | None = None,
    ticked: dict[str, datetime] | None = None,
    rules=None,
) -> Pace | None:
    """The learner's pace on the keys of their level, or None without enough history.

    ``remaining``: the keys of the level still open, as the caller's page counts them (one
    query then: the ticks of the window); without it they are counted here as the placement
    counts them (``placement.done_keys``: a key linked to modules is done with its modules).
    ``ticked``: when each of the learner's keys was ticked (code -> when), if the caller has
    read it already (no query then).
    """
    if learner.track_id is None or learner.assessment_submitted_at is None:
        return None
    now = now or timezone.now()
    rules = rules or curriculum_rules()
    track = rules.tracks.get(learner.track.slug)
    if track is None:
        return None
    codes = {key.code for key in track.keys.get(learner.level, ())}
    if remaining is None:
        modules = ModuleProgress.objects.filter(learner=learner).values_list(
            "module__number", flat=True
        )
        codes_ticked = KeyCompletion.objects.filter(learner=learner).values_list(
            "key__code", flat=True
        )
        done = done_keys(track, Progress(frozenset(modules), frozenset(codes_ticked)))
        remaining = len(codes - done)
    if remaining <= 0 or now - learner.assessment_submitted_at < timedelta(days=WINDOW_DAYS):
        return None  # nothing to say, and no query spent on it (the page's miss budget)
    since = now - timedelta(days=WINDOW_DAYS)
    if ticked is not None:
        ticked_at = [at for code, at in ticked.items() if code in codes and at >= since]
    else:
        ticked_at = KeyCompletion.objects.filter(
            learner=learner, key__code__in=codes, completed_at__gte=since
        ).values_list("completed_at", flat=True)
    try:
        zone = zoneinfo.ZoneInfo(learner.timezone)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        zone = timezone.get_default_timezone()
    return pace_estimate(
        ticked_at=list(ticked_at),
        remaining=remaining,
        started_at=learner.assessment_submitted_at,
        now=now,
        today=now.astimezone(zone).date(),
        level_name=rules.level_name(learner.level),
    )
