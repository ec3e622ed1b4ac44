"""Reads: the placement rule's inputs built from the database, with bounded queries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import CharField, Count, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from curriculum.models import Level, Module, Track
from curriculum.rules import CurriculumRules
from curriculum.selectors import curriculum_rules

from . import assessment
from .models import (
    CompletionSource,
    KeyCompletion,
    Learner,
    LevelChange,
    ModuleProgress,
)
from .placement import Placement, Profile, Progress, place


def learner_profile(learner: Learner, track_slug: str | None = None) -> Profile:
    """The placement inputs of a learner. ``track_slug`` saves a query when known."""
    if track_slug is None and learner.track_id is not None:
        track_slug = learner.track.slug
    return Profile(
        track=track_slug,
        submitted=learner.assessment_submitted_at is not None,
        **{name: getattr(learner, name) for name in assessment.FIELDS},
    )


def _completions(learner: Learner):
    """Every completion of the learner in one query (both are part of every tick and page
    drawn): ("module", its number as text, source, via, when) and ("key", its code, source,
    via, when), a UNION told apart by its first column."""
    fields = ("source", "via", "completed_at")
    modules = (
        ModuleProgress.objects.filter(learner=learner)
        .order_by()
        .values_list(Value("module"), Cast("module__number", CharField()), *fields)
    )
    keys = (
        KeyCompletion.objects.filter(learner=learner)
        .order_by()
        .values_list(Value("key"), "key__code", *fields)
    )
    return modules.union(keys, all=True)


def learner_progress(learner: Learner) -> Progress:
    """The numbers of the learner's modules and the codes of their keys (one query)."""
    done: dict[str, set[str]] = {"module": set(), "key": set()}
    for kind, item, *_ in _completions(learner):
        done[kind].add(item)
    return Progress(
        completed_modules=frozenset(int(number) for number in done["module"]),
        completed_keys=frozenset(done["key"]),
    )


def progress_by_learner(learner_ids: list[int]) -> dict[int, Progress]:
    """The progress of a chunk of learners: two queries, whatever their progress. Learners
    with none get an empty Progress."""
    modules: dict[int, set[int]] = defaultdict(set)
    for learner_id, number in ModuleProgress.objects.filter(learner_id__in=learner_ids).values_list(
        "learner_id", "module__number"
    ):
        modules[learner_id].add(number)
    keys: dict[int, set[str]] = defaultdict(set)
    for learner_id, code in KeyCompletion.objects.filter(learner_id__in=learner_ids).values_list(
        "learner_id", "key__code"
    ):
        keys[learner_id].add(code)
    return {
        learner_id: Progress(frozenset(modules[learner_id]), frozenset(keys[learner_id]))
        for learner_id in learner_ids
    }


def learner_placement(
    learner: Learner,
    curriculum: CurriculumRules | None = None,
    progress: Progress | None = None,
) -> Placement:
    """``progress`` saves its queries when the caller already read it (e.g. to show it)."""
    curriculum = curriculum or curriculum_rules()
    if progress is None:
        progress = learner_progress(learner)
    return place(curriculum, learner_profile(learner), progress)


# --- Instructor dashboard (admin) -------------------------------------------------------

INACTIVE_DAYS = 14
LEVEL_CHANGE_DAYS = 30


def inactive_since_q(cutoff) -> Q:
    """Learners with no activity since ``cutoff`` (never active: counted from signup)."""
    return Q(last_activity_at__lt=cutoff) | Q(last_activity_at__isnull=True, created_at__lt=cutoff)


@dataclass(frozen=True)
class LevelFigure:
    level: int
    name: str
    learners: int
    inactive: int


@dataclass(frozen=True)
class ModuleFigure:
    number: int
    title: str
    completed: int


@dataclass(frozen=True)
class TrackFigures:
    track_id: int
    slug: str
    name: str
    learners: int
    inactive: int
    levels: tuple[LevelFigure, ...]  # from the top of the pyramid (4) down to 1
    modules: tuple[ModuleFigure, ...]
    level_ups: int
    level_downs: int
    learners_changed: int

    @property
    def widest(self) -> int:
        return max((figure.learners for figure in self.levels), default=0)


@dataclass(frozen=True)
class DashboardFigures:
    now: datetime
    tracks: tuple[TrackFigures, ...]
    without_track: int
    inactive_days: int = INACTIVE_DAYS
    level_change_days: int = LEVEL_CHANGE_DAYS


def dashboard_figures(now: datetime | None = None) -> DashboardFigures:
    """Every figure of the instructors' dashboard in a fixed number of aggregate queries."""
    now = now or timezone.now()
    inactive_cutoff = now - timedelta(days=INACTIVE_DAYS)
    level_names = dict(Level.objects.values_list("number", "name"))
    modules = list(Module.objects.order_by("number").values_list("id", "number", "title"))

    per_level: dict[int | None, dict[int, tuple[int, int]]] = defaultdict(dict)
    for row in (
        Learner.objects.order_by()
        .values("track_id", "level")
        .annotate(n=Count("pk"), inactive=Count("pk", filter=inactive_since_q(inactive_cutoff)))
    ):
        per_level[row["track_id"]][row["level"]] = (row["n"], row["inactive"])

    completions: dict[int | None, dict[int, int]] = defaultdict(dict)
    for row in (
        ModuleProgress.objects.order_by()
        .values("learner__track_id", "module_id")
        .annotate(n=Count("pk"))
    ):
        completions[row["learner__track_id"]][row["module_id"]] = row["n"]

    changes: dict[int | None, dict[str, int]] = {}
    for row in (
        # A first placement (no "from") is where a learner starts, not a change of level.
        LevelChange.objects.filter(
            changed_at__gte=now - timedelta(days=LEVEL_CHANGE_DAYS), from_level__isnull=False
        )
        .order_by()
        .values("learner__track_id")
        .annotate(
            ups=Count("pk", filter=Q(to_level__gt=F("from_level"))),
            downs=Count("pk", filter=Q(to_level__lt=F("from_level"))),
            learners=Count("learner_id", distinct=True),
        )
    ):
        changes[row["learner__track_id"]] = row

    tracks = []
    for track_id, slug, name in Track.objects.order_by("order", "slug").values_list(
        "id", "slug", "name"
    ):
        counts = per_level.get(track_id, {})
        levels = tuple(
            LevelFigure(
                level=number,
                name=level_names[number],
                learners=counts.get(number, (0, 0))[0],
                inactive=counts.get(number, (0, 0))[1],
            )
            for number in sorted(level_names, reverse=True)
        )
        change = changes.get(track_id, {})
        tracks.append(
            TrackFigures(
                track_id=track_id,
                slug=slug,
                name=name,
                learners=sum(figure.learners for figure in levels),
                inactive=sum(figure.inactive for figure in levels),
                levels=levels,
                modules=tuple(
                    ModuleFigure(number, title, completions.get(track_id, {}).get(pk, 0))
                    for pk, number, title in modules
                ),
                level_ups=change.get("ups", 0),
                level_downs=change.get("downs", 0),
                learners_changed=change.get("learners", 0),
            )
        )

    return DashboardFigures(
        now=now,
        tracks=tuple(tracks),
        without_track=sum(n for n, _ in per_level.get(None, {}).values()),
    )


@dataclass(frozen=True)
class LearnerListFigures:
    keys_done: int
    modules_done: int


def learner_list_figures(learner_ids: list[int]) -> dict[int, LearnerListFigures]:
    """Progress counts of a page of learners, in one query.

    Kept apart from the list's own query so that the database computes them only for the
    rows shown, not for every row an OFFSET skips.
    """

    def count_of(model):
        rows = (
            model.objects.filter(learner=OuterRef("pk"))
            .order_by()
            .values("learner")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(rows, output_field=IntegerField()), 0)

    rows = (
        Learner.objects.filter(pk__in=learner_ids)
        .order_by()
        .values_list("pk")
        .annotate(
            keys_done=count_of(KeyCompletion),
            modules_done=count_of(ModuleProgress),
        )
    )
    return {pk: LearnerListFigures(keys, modules) for pk, keys, modules in rows}


def learner_progress_and_platforms(
    learner: Learner,
) -> tuple[Progress, dict[int, tuple[str, datetime]], dict[str, datetime]]:
    """The learner's progress (as ``learner_progress``, in one query), the modules a course
    platform completed: number -> (the platform's name, when) (the student cannot untick
    those: ``learners.services.module_set_done``), and when each key was ticked: code ->
    when (the student's pace reads it)."""
    modules: set[int] = set()
    platforms: dict[int, tuple[str, datetime]] = {}
    ticked: dict[str, datetime] = {}
    for kind, item, source, via, completed_at in _completions(learner):
        if kind == "key":
            ticked[item] = completed_at
            continue
        number = int(item)
        modules.add(number)
        if source == CompletionSource.PLATFORM:
            platforms[number] = (via, completed_at)
    return Progress(frozenset(modules), frozenset(ticked)), platforms, ticked


@dataclass(frozen=True)
class CohortMembers:
    """A cohort's page: its members (the first ``shown``), their levels and progress."""

    count: int
    levels: list[tuple[int, str, int]]  # (level, name, learners), every level
    modules_done_average: float
    members: list  # learners with ``list_figures``, by name


COHORT_MEMBERS_SHOWN = 200


def cohort_members(cohort_id: int, *, shown: int = COHORT_MEMBERS_SHOWN) -> CohortMembers:
    """A cohort's members with their level distribution and progress, in four queries."""
    learners = Learner.objects.filter(cohort_id=cohort_id)
    by_level = dict(learners.order_by().values_list("level").annotate(n=Count("pk")))
    rules = curriculum_rules()
    count = sum(by_level.values())
    modules = ModuleProgress.objects.filter(learner__cohort_id=cohort_id).count()
    members = list(
        learners.select_related("user", "track").order_by("user__last_name", "user__email")[:shown]
    )
    figures = learner_list_figures([learner.pk for learner in members])
    for learner in members:
        learner.list_figures = figures.get(learner.pk)
    return CohortMembers(
        count=count,
        levels=[(level, rules.level_name(level), by_level.get(level, 0)) for level in range(1, 5)],
        modules_done_average=modules / count if count else 0.0,
        members=members,
    )
