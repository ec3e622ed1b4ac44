"""The insights page's figures, from plain data: no Django, so the definitions read as the
spec and are tested against cohorts whose answers are worked out by hand.

Definitions (the page says them in words too):

- A learner *started* when they submitted a self-assessment; their *placement* is that
  moment and the level it gave them (``placed_level``).
- *Reached level L since placement*: placed below L and later at L or above (a jump from 1 to
  3 reaches 2 and 3). *Days to L*: from placement to the first time at L or above.
- *Module funnel*: a learner *reached* module N when they finished module N-1 or any later
  one (module 1: every learner who started); *finished* N when they completed it; *lost since
  the previous* module = reached the previous one but not this one.
- *Stuck point* of a learner without progress for ``INACTIVE_DAYS``: the furthest module they
  finished and the next one; with no module, the furthest key of their level they ticked (in
  the level's order) and the next key. Learners who never ticked anything are *never
  started*, not stuck.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

STUCK_POINTS_SHOWN = 5
LEVELS = (1, 2, 3, 4)
MODULE_PREFIX = "m"
KEY_PREFIX = "k"


@dataclass(frozen=True)
class Journey:
    """One learner as the insights see them."""

    learner_id: int
    cohort_id: int | None
    level: int
    placed_level: int | None  # None: no self-assessment yet
    placed_at: datetime | None
    reached_at: Mapping[int, datetime] = field(default_factory=dict)  # level -> first time
    furthest_module: int | None = None
    furthest_key: str | None = None  # code of the furthest key of their level they ticked
    ticked: bool = False  # any key or module done
    inactive: bool = False

    @property
    def started(self) -> bool:
        return self.placed_level is not None


@dataclass(frozen=True)
class Course:
    """What the figures need from the curriculum: names and orders."""

    level_names: Mapping[int, str]
    module_titles: Mapping[int, str]  # number -> title, in course order
    keys: Mapping[int, Sequence[tuple[str, str]]]  # level -> (code, text) in the level's order


@dataclass(frozen=True)
class LevelRow:
    level: int
    name: str
    placed: int
    reached: int
    median_days: float | None


@dataclass(frozen=True)
class LevelFunnel:
    cohort_id: int | None
    label: str
    started: int
    rows: tuple[LevelRow, ...]


@dataclass(frozen=True)
class ModuleRow:
    number: int
    title: str
    reached: int
    finished: int
    lost: int | None  # None for the first module (no previous one)


@dataclass(frozen=True)
class StuckPoint:
    code: str  # "m4" (after module 4) or "kengineer-2-03" (after that key)
    last_done: str
    next_up: str
    learners: int


@dataclass(frozen=True)
class NeverStarted:
    no_assessment: int
    no_tick: int  # assessed, nothing ticked

    @property
    def total(self) -> int:
        return self.no_assessment + self.no_tick


def median_days(durations: Iterable[float]) -> float | None:
    values = list(durations)
    return round(statistics.median(values), 1) if values else None


def level_funnel(
    journeys: Iterable[Journey], course: Course, *, cohort_id: int | None = None, label: str = ""
) -> LevelFunnel:
    started = [j for j in journeys if j.started]
    rows = []
    for level in LEVELS:
        reached = [
            j for j in started if j.placed_level < level and j.reached_at.get(level) is not None
        ]
        rows.append(
            LevelRow(
                level=level,
                name=course.level_names.get(level, str(level)),
                placed=sum(1 for j in started if j.placed_level == level),
                reached=len(reached),
                median_days=median_days(
                    (j.reached_at[level] - j.placed_at).total_seconds() / 86400 for j in reached
                ),
            )
        )
    return LevelFunnel(cohort_id=cohort_id, label=label, started=len(started), rows=tuple(rows))


def level_funnels_by_cohort(
    journeys: Sequence[Journey], course: Course, cohort_names: Mapping[int | None, str]
) -> list[LevelFunnel]:
    """One funnel per cohort with learners (in ``cohort_names`` order), side by side."""
    by_cohort: dict[int | None, list[Journey]] = {}
    for journey in journeys:
        by_cohort.setdefault(journey.cohort_id, []).append(journey)
    return [
        level_funnel(by_cohort[cohort_id], course, cohort_id=cohort_id, label=name)
        for cohort_id, name in cohort_names.items()
        if cohort_id in by_cohort
    ]


def module_funnel(
    journeys: Iterable[Journey], course: Course, finished: Mapping[int, int]
) -> list[ModuleRow]:
    """``finished``: module number -> learners who completed it (counted by the database)."""
    furthest = Counter((j.furthest_module or 0) for j in journeys if j.started)
    started = sum(furthest.values())
    rows = []
    previous_reached: int | None = None
    for number, title in course.module_titles.items():
        # Reached N: finished N-1 or a later module (module 1: everyone who started).
        reached = started if number == 1 else sum(n for m, n in furthest.items() if m >= number - 1)
        rows.append(
            ModuleRow(
                number=number,
                title=title,
                reached=reached,
                finished=finished.get(number, 0),
                lost=None if previous_reached is None else previous_reached - reached,
            )
        )
        previous_reached = reached
    return rows


def stuck_point_of(journey: Journey, course: Course) -> tuple[str, str, str] | None:
    """(code, last done, next up) of an inactive learner, or None (active, never started, or
    at the end of the course)."""
    if not (journey.inactive and journey.started and journey.ticked):
        return None
    numbers = list(course.module_titles)
    if journey.furthest_module is not None:
        number = journey.furthest_module
        later = [n for n in numbers if n > number]
        if not later:
            return None
        return (
            f"{MODULE_PREFIX}{number}",
            f"Module {number}: {course.module_titles.get(number, '')}",
            f"Module {later[0]}: {course.module_titles[later[0]]}",
        )
    if journey.furthest_key is None:
        return None
    keys = list(course.keys.get(journey.level, ()))
    codes = [code for code, _ in keys]
    if journey.furthest_key not in codes:
        return None
    index = codes.index(journey.furthest_key)
    next_up = f"Key {keys[index + 1][0]}: {keys[index + 1][1]}" if index + 1 < len(keys) else ""
    return (
        f"{KEY_PREFIX}{journey.furthest_key}",
        f"Key {keys[index][0]}: {keys[index][1]}",
        next_up or "the level's keys are all ticked",
    )


def stuck_points(
    journeys: Iterable[Journey], course: Course, *, shown: int = STUCK_POINTS_SHOWN
) -> list[StuckPoint]:
    """The most common stuck points, most learners first (then in course order)."""
    counts: Counter[str] = Counter()
    texts: dict[str, tuple[str, str]] = {}
    for journey in journeys:
        point = stuck_point_of(journey, course)
        if point is not None:
            code, last_done, next_up = point
            counts[code] += 1
            texts[code] = (last_done, next_up)
    order = sorted(counts, key=lambda code: (-counts[code], _course_order(code, course)))
    return [StuckPoint(code, *texts[code], learners=counts[code]) for code in order[:shown]]


def _course_order(code: str, course: Course) -> tuple[int, int, str]:
    if code.startswith(MODULE_PREFIX):
        return (1, int(code[1:]), "")
    return (0, 0, code[1:])


def never_started(journeys: Iterable[Journey]) -> NeverStarted:
    no_assessment = no_tick = 0
    for journey in journeys:
        if not journey.started:
            no_assessment += 1
        elif not journey.ticked:
            no_tick += 1
    return NeverStarted(no_assessment=no_assessment, no_tick=no_tick)
