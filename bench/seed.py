"""Build N synthetic learners quickly: PostgreSQL COPY of every table, then ANALYZE.

Learners get a realistic spread of tracks, answers, amounts, progress, time zones, cohorts,
verified addresses, activity dates, level history and a nudge ledger. Levels come from the
real placement rule, except for a known share of deliberately stale ones, so that
``recompute_levels`` has real work to do and its writes can be checked against that share.

Runs inside a Django process (``bench/measure.py seed``) on an empty, migrated database.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.db import connection, models
from django.utils import timezone

from curriculum.models import Track
from curriculum.selectors import curriculum_rules
from learners.models import (
    Cohort,
    KeyCompletion,
    Learner,
    LevelChange,
    ModuleProgress,
    User,
)
from learners.nudges.models import Nudge
from learners.placement import Profile, Progress, place

STALE_SHARE = 0.02  # learners whose stored level is deliberately not the rule's
BENCH_PASSWORD = "bench-password-not-secret"  # noqa: S105 - synthetic accounts only
ADMIN_EMAIL = "bench-admin@bench.example"
EMAIL_DOMAIN = "bench.example"

# Roughly where the course's learners live, weighted.
TIMEZONES = [
    ("America/New_York", 14),
    ("America/Chicago", 6),
    ("America/Denver", 2),
    ("America/Los_Angeles", 10),
    ("America/Sao_Paulo", 3),
    ("America/Toronto", 3),
    ("America/Mexico_City", 2),
    ("Europe/London", 8),
    ("Europe/Paris", 5),
    ("Europe/Berlin", 6),
    ("Europe/Amsterdam", 2),
    ("Europe/Warsaw", 2),
    ("Europe/Kyiv", 2),
    ("Africa/Lagos", 2),
    ("Africa/Nairobi", 1),
    ("Asia/Dubai", 2),
    ("Asia/Kolkata", 10),
    ("Asia/Singapore", 3),
    ("Asia/Shanghai", 4),
    ("Asia/Tokyo", 3),
    ("Asia/Seoul", 2),
    ("Asia/Jakarta", 1),
    ("Australia/Sydney", 3),
    ("Pacific/Auckland", 1),
    ("UTC", 3),
]
FIRST_NAMES = "Ada Alan Grace Linus Guido Barbara Ken Dennis Margaret Edsger Frances Tim".split()
LAST_NAMES = "Lovelace Turing Hopper Torvalds Rossum Liskov Thompson Ritchie Hamilton".split()


@dataclass
class SeedReport:
    learners: int
    users: int
    email_addresses: int
    module_progress: int
    key_completions: int
    level_changes: int
    nudges: int
    cohorts: int
    stale_levels: int
    levels: dict[int, int]
    tracks: dict[str, int]
    seconds: float


def _copy(model: type[models.Model], fields: list[str], rows: Iterable[tuple]) -> int:
    """COPY ``rows`` (values of ``fields``, in order) into the model's table.

    Concrete columns not listed get their model default, so that a column another engineer
    adds later (with a default) does not break the bench.
    """
    opts = model._meta
    given = [opts.get_field(name) for name in fields]
    extra = [
        field
        for field in opts.concrete_fields
        if field not in given and not field.primary_key and not field.null
    ]
    extra_values = tuple(_db_value(field.get_default()) for field in extra)
    columns = ", ".join(f'"{field.column}"' for field in [*given, *extra])
    count = 0
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f'COPY "{opts.db_table}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row((*row, *extra_values))
                count += 1
    return count


def _db_value(value):
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


def _weighted(rng: random.Random, table: list[tuple[str, int]]) -> Iterator[str]:
    names = [name for name, _ in table]
    weights = [weight for _, weight in table]
    while True:
        yield from rng.choices(names, weights, k=1024)


def _engineer_answers(rng: random.Random) -> dict:
    skill = rng.choices([1, 2, 3, 4], [35, 32, 23, 10])[0]
    band = rng.choices([1, 2, 3, 4], [35, 30, 25, 10])[0]
    low, high = {1: (60, 150), 2: (150, 200), 3: (200, 300), 4: (300, 650)}[band]
    compensation = None if rng.random() < 0.1 else rng.randrange(low, high) * 1000
    architect = skill >= 3 and rng.random() < 0.85
    return {
        "annual_compensation": compensation,
        "can_explain_concepts": skill >= 2 or rng.random() < 0.3,
        "can_implement_from_scratch": skill >= 3 or rng.random() < 0.1,
        "deployed_at_scale": skill >= 4 and rng.random() < 0.8,
        "seen_as": "architect" if architect else "integrator",
        "leads_initiatives": skill >= 4 and rng.random() < 0.8,
    }


def _founder_answers(rng: random.Random) -> dict:
    band = rng.choices([0, 1, 2, 3, 4], [30, 30, 25, 12, 3])[0]
    low, high = {0: (0, 1), 1: (1, 50), 2: (50, 200), 3: (200, 1000), 4: (1000, 5000)}[band]
    revenue = rng.randrange(low, high) * 1000
    owns = rng.random() < 0.4
    replicable = rng.random() < (0.4 if owns else 0.9)
    return {
        "monthly_recurring_revenue": revenue,
        "monthly_api_cost": (
            int(revenue * rng.uniform(0.05, 0.6)) if revenue and rng.random() < 0.7 else None
        ),
        "owns_model_weights": owns,
        "replicable_by_competitors": replicable,
        "investor_fundable": (owns and not replicable and rng.random() < 0.6) or rng.random() < 0.1,
    }


BLANK_ANSWERS = {
    "annual_compensation": None,
    "can_explain_concepts": None,
    "can_implement_from_scratch": None,
    "deployed_at_scale": None,
    "seen_as": "",
    "leads_initiatives": None,
    "monthly_recurring_revenue": None,
    "monthly_api_cost": None,
    "owns_model_weights": None,
    "replicable_by_competitors": None,
    "investor_fundable": None,
}
LEARNER_FIELDS = [
    "id",
    "user",
    "track",
    "cohort",
    "timezone",
    "nudges_enabled",
    "assessment_submitted_at",
    *BLANK_ANSWERS,
    "level",
    "level_changed_at",
    "placed_at",
    "last_activity_at",
    "created_at",
]


def _completed_modules(rng: random.Random) -> list[int]:
    finished = rng.choices(range(10), [15, 12, 11, 10, 10, 9, 9, 8, 8, 8])[0]
    modules = set(range(1, finished + 1))
    if modules and rng.random() < 0.1:
        modules.discard(rng.choice(sorted(modules)))
    if finished < 9 and rng.random() < 0.1:
        modules.add(rng.randint(finished + 1, 9))
    return sorted(modules)


def seed(n: int, *, seed_value: int = 6) -> SeedReport:
    started = time.perf_counter()
    rng = random.Random(seed_value)
    now = timezone.now()
    rules = curriculum_rules(fresh=True)
    track_ids = dict(Track.objects.values_list("slug", "id"))
    key_ids = {
        key.code: key.id
        for track in rules.tracks.values()
        for keys in track.keys.values()
        for key in keys
    }
    tickable = {
        slug: {
            level: [key.code for key in keys if not key.module_linked]
            for level, keys in track.keys.items()
        }
        for slug, track in rules.tracks.items()
    }
    module_ids = dict(rules.module_ids)

    cohorts = [
        Cohort(name=f"Bench cohort {i:02d}", start_date=(now - timedelta(days=30 * i)).date())
        for i in range(24)
    ]
    Cohort.objects.bulk_create(cohorts)
    cohort_ids = [cohort.pk for cohort in cohorts]

    zones = _weighted(rng, TIMEZONES)
    password = make_password(BENCH_PASSWORD)

    users, emails, learners, module_rows, key_rows, history, nudges = [], [], [], [], [], [], []
    levels: dict[int, int] = {1: 0, 2: 0, 3: 0, 4: 0}
    tracks: dict[str, int] = {"engineer": 0, "founder": 0, "none": 0}
    stale = 0
    for i in range(1, n + 1):
        created = now - timedelta(days=min(rng.expovariate(1 / 120), 720), minutes=rng.random())
        email = f"learner{i:07d}@{EMAIL_DOMAIN}"
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        users.append((i, password, None, False, first, last, False, True, created, email))
        verified = rng.random() < 0.92
        emails.append((email, verified, True, i))

        submitted = rng.random() < 0.93
        slug = rng.choices(["engineer", "founder"], [62, 38])[0] if submitted else None
        answers = dict(BLANK_ANSWERS)
        if slug == "engineer":
            answers.update(_engineer_answers(rng))
        elif slug == "founder":
            answers.update(_founder_answers(rng))
        tracks[slug or "none"] += 1
        submitted_at = created + timedelta(hours=rng.uniform(0.1, 72)) if submitted else None
        if submitted_at and submitted_at > now:
            submitted_at = now

        modules, keys = [], []
        if submitted:
            modules = _completed_modules(rng)
            reached = len(modules) // 3 + 1
            for level, codes in tickable[slug].items():
                share = rng.uniform(0.5, 1.0) if level < reached else rng.uniform(0, 0.9)
                if level > reached and rng.random() < 0.6:
                    share = 0
                keys.extend(code for code in codes if rng.random() < share)
        active = submitted_at or created
        last_activity = None
        if submitted and rng.random() < 0.95:
            last_activity = max(active, now - timedelta(days=rng.expovariate(1 / 12)))
        for number in modules:
            module_rows.append((i, module_ids[number], _between(rng, active, last_activity)))
        for code in keys:
            key_rows.append((i, key_ids[code], _between(rng, active, last_activity)))

        profile = Profile(track=slug, submitted=submitted, **answers)
        placement = place(rules, profile, Progress(frozenset(modules), frozenset(keys)))
        level = placement.level
        changed_at = None
        if submitted:
            history.append((i, None, placement.profile_level, submitted_at, '["Self-assessment."]'))
            changed_at = submitted_at
            if level != placement.profile_level:
                changed_at = last_activity or submitted_at
                history.append((i, placement.profile_level, level, changed_at, '["Progress."]'))
        if rng.random() < STALE_SHARE:
            level = level % 4 + 1
            stale += 1
        levels[level] += 1
        opted_in = rng.random() < 0.9
        learners.append(
            (
                i,
                i,
                track_ids[slug] if slug else None,
                rng.choice(cohort_ids) if rng.random() < 0.7 else None,
                next(zones),
                opted_in,
                submitted_at,
                *answers.values(),
                level,
                changed_at,
                submitted_at,  # placed when they submitted (the history's first row)
                last_activity,
                created,
            )
        )

        # The ledger: what earlier sweeps would have left behind.
        if verified and now - created > timedelta(days=2):
            sent = created + timedelta(hours=1)
            nudges.append((i, "welcome", "once", "sent" if opted_in else "skipped", sent))
        if not submitted and now - created > timedelta(days=2):
            sent = created + timedelta(days=2, hours=1)
            nudges.append((i, "self_assessment", "once", "sent" if opted_in else "skipped", sent))
        if last_activity and now - last_activity > timedelta(days=8) and rng.random() < 0.7:
            sent = now - timedelta(days=rng.uniform(3, 14))
            year, week, _ = sent.isocalendar()
            nudges.append((i, "next_step", f"{year}-W{week:02d}", "sent", sent))
        if submitted and level > placement.profile_level:
            nudges.append((i, "level_up", f"level-{level}", "sent", changed_at))

    report = SeedReport(
        learners=n,
        users=0,
        email_addresses=0,
        module_progress=0,
        key_completions=0,
        level_changes=0,
        nudges=0,
        cohorts=len(cohorts),
        stale_levels=stale,
        levels=levels,
        tracks=tracks,
        seconds=0.0,
    )
    with connection.cursor() as cursor:
        # Foreign keys are checked by triggers row by row; the generated rows are consistent.
        cursor.execute("SET session_replication_role = replica")
    try:
        report.users = _copy(
            User,
            [
                "id",
                "password",
                "last_login",
                "is_superuser",
                "first_name",
                "last_name",
                "is_staff",
                "is_active",
                "date_joined",
                "email",
            ],
            users,
        )
        report.email_addresses = _copy(
            EmailAddress, ["email", "verified", "primary", "user"], emails
        )
        _copy(Learner, LEARNER_FIELDS, learners)
        report.module_progress = _copy(
            ModuleProgress,
            ["learner", "module", "completed_at"],
            module_rows,
        )
        report.key_completions = _copy(KeyCompletion, ["learner", "key", "completed_at"], key_rows)
        report.level_changes = _copy(
            LevelChange, ["learner", "from_level", "to_level", "changed_at", "reasons"], history
        )
        report.nudges = _copy(
            Nudge,
            ["learner", "kind", "dedup_key", "status", "created_at", "handed_at", "sent_at"],
            (
                (learner, kind, key, status, at, at, at if status == "sent" else None)
                for learner, kind, key, status, at in nudges
            ),
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")
    with connection.cursor() as cursor:
        for model in (User, Learner):
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {table}))"
            )
    User.objects.create_superuser(email=ADMIN_EMAIL, password=BENCH_PASSWORD)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    report.seconds = time.perf_counter() - started
    return report


def _between(rng: random.Random, start: datetime, end: datetime | None) -> datetime:
    if end is None or end <= start:
        return start
    return start + (end - start) * rng.random()
