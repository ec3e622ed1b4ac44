"""A seeded cohort whose insights are worked out by hand (see ``EXPECTED`` in each test).

Engineer track; "now" is the moment the fixture runs. Cohort Spring placed 60 days ago (P),
cohort Summer 20 days ago (Q), one learner without a cohort placed 10 days ago (R).

| learner | cohort | placed | later levels       | modules   | keys      | last active  |
|---------|--------|--------|--------------------|-----------|-----------|--------------|
| a1      | Spring | 1      | 2 at P+10, 3 at P+30 | 1 2 3 4 |           | 20 days ago  |
| a2      | Spring | 1      | 2 at P+20          | 1 2 3 4   |           | 15 days ago  |
| a3      | Spring | 2      | 3 at P+40          | 4         |           | 1 day ago    |
| a4      | Spring | 1      |                    | 1 2       |           | 30 days ago  |
| b1      | Summer | 1      | 2 at Q+5           | 1         |           | 14 days 1 h  |
| b2      | Summer | 1      |                    |           | 1-01 1-03 | 16 days ago  |
| b3      | Summer | 1      |                    |           |           | 20 days ago  |
| b4      | Summer | (no self-assessment: imported)  |           |           | never        |
| b5      | Summer | 1      | 3 at Q+6 (a jump)  | 1 2 3     |           | 2 days ago   |
| n1      | -      | 3      |                    |           |           | 10 days ago  |
| f1      | Summer | founder track: never counted on the engineer page, though stuck  |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from curriculum.models import Key, Module, Track
from learners.models import KeyCompletion, Learner, LevelChange, ModuleProgress
from tests.factories import CohortFactory, LearnerFactory


@dataclass
class Seeded:
    now: datetime
    track: Track
    learners: dict[str, Learner]
    spring: object
    summer: object


def _learner(name, *, track, cohort, placed_at, level, changes=(), modules=(), keys=(), idle):
    learner = LearnerFactory(
        user__email=f"{name}@example.com",
        track=track,
        cohort=cohort,
        assessment_submitted_at=placed_at,
        level=level,
        last_activity_at=None if idle is None else timezone.now() - idle,
        created_at=(placed_at or timezone.now()) - timedelta(days=1),
    )
    for from_level, to_level, at in changes:
        LevelChange.objects.create(
            learner=learner, from_level=from_level, to_level=to_level, changed_at=at
        )
    for number in modules:
        ModuleProgress.objects.create(
            learner=learner, module=Module.objects.get(number=number), completed_at=placed_at
        )
    for code in keys:
        KeyCompletion.objects.create(
            learner=learner, key=Key.objects.get(code=code), completed_at=placed_at
        )
    return learner


def seed_cohort() -> Seeded:
    now = timezone.now()
    engineer = Track.objects.get(slug="engineer")
    founder = Track.objects.get(slug="founder")
    spring = CohortFactory(name="Spring", start_date=(now - timedelta(days=61)).date())
    summer = CohortFactory(name="Summer", start_date=(now - timedelta(days=21)).date())
    p, q, r = (now - timedelta(days=d) for d in (60, 20, 10))
    day = timedelta(days=1)
    e = {"track": engineer}
    learners = {
        "a1": _learner(
            "a1", **e, cohort=spring, placed_at=p, level=3,
            changes=[(1, 2, p + 10 * day), (2, 3, p + 30 * day)],
            modules=(1, 2, 3, 4), idle=20 * day,
        ),
        "a2": _learner(
            "a2", **e, cohort=spring, placed_at=p, level=2,
            changes=[(1, 2, p + 20 * day)], modules=(1, 2, 3, 4), idle=15 * day,
        ),
        "a3": _learner(
            "a3", **e, cohort=spring, placed_at=p, level=3,
            changes=[(1, 2, p), (2, 3, p + 40 * day)], modules=(4,), idle=1 * day,
        ),
        "a4": _learner(
            "a4", **e, cohort=spring, placed_at=p, level=1, modules=(1, 2), idle=30 * day
        ),
        "b1": _learner(
            "b1", **e, cohort=summer, placed_at=q, level=2,
            changes=[(1, 2, q + 5 * day)], modules=(1,), idle=14 * day + timedelta(hours=1),
        ),
        "b2": _learner(
            "b2", **e, cohort=summer, placed_at=q, level=1,
            keys=("engineer-1-01", "engineer-1-03"), idle=16 * day,
        ),
        "b3": _learner("b3", **e, cohort=summer, placed_at=q, level=1, idle=20 * day),
        "b4": _learner("b4", **e, cohort=summer, placed_at=None, level=1, idle=None),
        "b5": _learner(
            "b5", **e, cohort=summer, placed_at=q, level=3,
            changes=[(1, 3, q + 6 * day)], modules=(1, 2, 3), idle=2 * day,
        ),
        "n1": _learner(
            "n1", **e, cohort=None, placed_at=r, level=3, changes=[(1, 3, r)], idle=10 * day
        ),
        "f1": _learner(
            "f1", track=founder, cohort=summer, placed_at=q, level=1, modules=(1, 2, 3, 4),
            idle=40 * day,
        ),
    }  # fmt: skip
    # b4 was imported long ago and never came: inactive since it joined.
    Learner.objects.filter(pk=learners["b4"].pk).update(created_at=now - 30 * day)
    return Seeded(now=now, track=engineer, learners=learners, spring=spring, summer=summer)
