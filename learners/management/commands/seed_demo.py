"""Demo data: an admin, an instructor, demo students on every level of both tracks, and N
synthetic learners written with bulk inserts.

Safe to run again (``make run`` runs it on every start): existing demo users are left as
they are, and synthetic learners are numbered, so only the missing ones are added.
"""

from __future__ import annotations

import random
import secrets
import time
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from curriculum.models import Module, Track
from curriculum.rules import CurriculumRules, TrackRules
from curriculum.selectors import curriculum_rules
from learners.models import Cohort, KeyCompletion, Learner, ModuleProgress, User
from learners.placement import MAX_LEVEL
from learners.services import learner_create, learners_recompute

ADMIN_EMAIL = "admin@example.com"
INSTRUCTOR_EMAIL = "instructor@example.com"
INSTRUCTORS_GROUP = "Instructors"
# Known passwords only where they are harmless: with DEBUG off each run makes random ones.
DEMO_PASSWORD = "pyramid-demo"  # noqa: S105
SYNTHETIC_EMAIL = "synthetic-{:05d}@example.com"
# Where the demo's module lessons are, so that "Continue" leads somewhere (set only on
# modules without a course URL: an instructor's own link is kept).
DEMO_COURSE_URL = "https://learn.example.com/build-your-own-frontier-ai/module-{}/"
DEMO_COHORTS = ("Demo cohort: Spring", "Demo cohort: Summer", "Demo cohort: Autumn")
TIMEZONES = (
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Africa/Lagos",
)
FIRST_NAMES = (
    "Ada Alan Grace Linus Margaret Ken Barbara Donald Frances Edsger Radia Dennis Sophie "
    "Yann Fei-Fei Andrew Ilya Jeff Anima Demis Kai Mira Omar Priya Chen Lena Tomás Aiko"
).split()
LAST_NAMES = (
    "Lovelace Turing Hopper Torvalds Hamilton Thompson Liskov Knuth Allen Dijkstra Perlman "
    "Ritchie Wilson Okafor Nakamura Silva Novak Kowalski Haddad Iyer Wang Moreau Schmidt"
).split()

ENGINEER_ANSWERS = {
    # Answers that match each level (see the placement rule), the compensation set apart.
    1: dict(
        can_explain_concepts=False,
        can_implement_from_scratch=False,
        deployed_at_scale=False,
        seen_as="integrator",
        leads_initiatives=False,
    ),
    2: dict(
        can_explain_concepts=True,
        can_implement_from_scratch=False,
        deployed_at_scale=False,
        seen_as="integrator",
        leads_initiatives=False,
    ),
    3: dict(
        can_explain_concepts=True,
        can_implement_from_scratch=True,
        deployed_at_scale=False,
        seen_as="architect",
        leads_initiatives=False,
    ),
    4: dict(
        can_explain_concepts=True,
        can_implement_from_scratch=True,
        deployed_at_scale=True,
        seen_as="architect",
        leads_initiatives=True,
    ),
}
FOUNDER_ANSWERS = {
    1: dict(owns_model_weights=False, replicable_by_competitors=True, investor_fundable=False),
    2: dict(owns_model_weights=False, replicable_by_competitors=True, investor_fundable=False),
    3: dict(owns_model_weights=True, replicable_by_competitors=True, investor_fundable=False),
    4: dict(owns_model_weights=True, replicable_by_competitors=False, investor_fundable=True),
}

# Demo students: (email, first, last, track, amount, answers of level, levels graduated by
# progress, (modules, keys) of partial progress on the level they stand on). The Driving
# students have mastered every module (the document's alignment: "all modules mastered").
DEMO_STUDENTS = (
    ("new.student@example.com", "Nadia", "New", None, None, None, (), (0, 0)),
    ("struggling.engineer@example.com", "Sam", "Struggling", "engineer", 120_000, 1, (), (1, 2)),
    ("surviving.engineer@example.com", "Sue", "Surviving", "engineer", 170_000, 2, (), (1, 3)),
    ("thriving.engineer@example.com", "Theo", "Thriving", "engineer", 230_000, 2, (2,), (0, 2)),
    ("driving.engineer@example.com", "Dana", "Driving", "engineer", 350_000, 4, (), (0, 5)),
    ("struggling.founder@example.com", "Fay", "Founder", "founder", 20_000, 2, (), (2, 4)),
    ("surviving.founder@example.com", "Felix", "Surviving", "founder", 120_000, 3, (), (0, 3)),
    # Revenue in the Thriving band ($200K-$1M MRR), answers of an owner of model weights.
    ("thriving.founder@example.com", "Farah", "Thriving", "founder", 350_000, 3, (), (1, 4)),
    ("driving.founder@example.com", "Frank", "Driving", "founder", 1_500_000, 4, (), (0, 6)),
)


class Command(BaseCommand):
    help = "Demo admin and instructor, demo students on every level, N synthetic learners."

    def add_arguments(self, parser):
        parser.add_argument(
            "--learners", type=int, default=200, help="How many synthetic learners (default 200)."
        )

    def handle(self, *args, learners, **options):
        started = time.perf_counter()
        _course_urls()
        rules = curriculum_rules(fresh=True)
        tracks = {track.slug: track for track in Track.objects.all()}
        credentials = []
        with transaction.atomic():
            credentials.append(self._staff(ADMIN_EMAIL, "Ada", "Admin", superuser=True))
            credentials.append(self._staff(INSTRUCTOR_EMAIL, "Ian", "Instructor"))
            students = self._students(rules, tracks, credentials)
            synthetic = self._synthetic(learners, rules, tracks)
            ids = students + synthetic
            if ids:
                learners_recompute(learner_ids=ids)
            above = Learner.objects.filter(pk__in=ids, level__gt=1).count()
        self.stdout.write("Demo accounts (log in at /admin/ or /accounts/login/):")
        for email, password, role in credentials:
            self.stdout.write(f"  {role:<10} {email:<34} {password}")
        self.stdout.write(
            f"Created {len(students)} demo students and {len(synthetic)} synthetic learners"
            + (f"; {above} placed above level 1" if ids else "")
            + f" ({time.perf_counter() - started:.2f}s)."
        )

    def _password(self) -> tuple[str, str]:
        """A password and its hash; hashed once per run, as hashing is slow on purpose."""
        if not hasattr(self, "_password_pair"):
            password = DEMO_PASSWORD if settings.DEBUG else secrets.token_urlsafe(12)
            self._password_pair = (password, make_password(password))
        return self._password_pair

    def _staff(self, email: str, first: str, last: str, *, superuser: bool = False):
        role = "admin" if superuser else "instructor"
        if User.objects.filter(email=email).exists():
            return email, "(exists, password unchanged)", role
        password, hashed = self._password()
        user = User.objects.create_user(
            email=email,
            first_name=first,
            last_name=last,
            is_staff=True,
            is_superuser=superuser,
        )
        User.objects.filter(pk=user.pk).update(password=hashed)
        if not superuser:
            group = Group.objects.filter(name=INSTRUCTORS_GROUP).first()
            if group is None:
                self.stderr.write(
                    f'No "{INSTRUCTORS_GROUP}" group: {email} is staff without permissions.'
                )
            else:
                user.groups.add(group)
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
        return email, password, role

    def _students(self, rules: CurriculumRules, tracks: dict, credentials: list) -> list[int]:
        existing = set(
            User.objects.filter(email__in=[s[0] for s in DEMO_STUDENTS]).values_list(
                "email", flat=True
            )
        )
        cohort, _ = Cohort.objects.get_or_create(name=DEMO_COHORTS[0])
        now = timezone.now()
        ids, modules, keys = [], [], []
        password, hashed = self._password()
        for email, first, last, slug, amount, level, graduated, partial in DEMO_STUDENTS:
            if email in existing:
                credentials.append((email, "(exists, password unchanged)", "student"))
                continue
            profile = {}
            if slug is not None:
                profile = _answers(slug, level, amount) | {"assessment_submitted_at": now}
            learner = learner_create(
                email=email,
                first_name=first,
                last_name=last,
                track=tracks.get(slug),
                cohort=cohort,
                timezone="Europe/Paris",
                last_activity_at=now,
                **profile,
            )
            User.objects.filter(pk=learner.user_id).update(password=hashed)
            EmailAddress.objects.create(user=learner.user, email=email, verified=True, primary=True)
            credentials.append((email, password, "student"))
            ids.append(learner.pk)
            if slug is None:
                continue
            done_modules, done_keys = _progress_through(
                rules.tracks[slug], level, graduated, partial
            )
            modules += [
                ModuleProgress(learner=learner, module_id=rules.module_ids[number])
                for number in done_modules
            ]
            keys += [KeyCompletion(learner=learner, key_id=key_id) for key_id in done_keys]
        ModuleProgress.objects.bulk_create(modules)
        KeyCompletion.objects.bulk_create(keys)
        return ids

    def _synthetic(self, count: int, rules: CurriculumRules, tracks: dict) -> list[int]:
        wanted = {SYNTHETIC_EMAIL.format(number): number for number in range(1, count + 1)}
        existing = set(
            User.objects.filter(email__startswith="synthetic-").values_list("email", flat=True)
        )
        todo = [(email, number) for email, number in wanted.items() if email not in existing]
        if not todo:
            return []
        cohorts = [Cohort.objects.get_or_create(name=name)[0] for name in DEMO_COHORTS] + [None]
        now = timezone.now()
        unusable = make_password(None)
        people = [(email, _synthetic_person(number, rules, now)) for email, number in todo]
        users = [
            User(
                email=email,
                first_name=person["first_name"],
                last_name=person["last_name"],
                password=unusable,
                date_joined=person["created_at"],
            )
            for email, person in people
        ]
        User.objects.bulk_create(users, batch_size=1000)
        user_ids = dict(
            User.objects.filter(email__in=[email for email, _ in people]).values_list("email", "pk")
        )
        EmailAddress.objects.bulk_create(
            [
                EmailAddress(user_id=user_ids[email], email=email, verified=True, primary=True)
                for email, person in people
                if person["verified"]
            ],
            batch_size=1000,
        )
        learners = [
            Learner(
                user_id=user_ids[email],
                track=tracks.get(person["track"]),
                cohort=cohorts[person["cohort"]],
                **person["learner"],
            )
            for email, person in people
        ]
        Learner.objects.bulk_create(learners, batch_size=1000)
        learner_ids = dict(
            Learner.objects.filter(user_id__in=user_ids.values()).values_list("user_id", "pk")
        )
        modules, keys = [], []
        for email, person in people:
            learner_id = learner_ids[user_ids[email]]
            completed_at = person["learner"]["last_activity_at"] or person["created_at"]
            modules += [
                ModuleProgress(
                    learner_id=learner_id,
                    module_id=rules.module_ids[number],
                    completed_at=completed_at,
                )
                for number in person["modules"]
            ]
            keys += [
                KeyCompletion(learner_id=learner_id, key_id=key_id, completed_at=completed_at)
                for key_id in person["keys"]
            ]
        ModuleProgress.objects.bulk_create(modules, batch_size=2000)
        KeyCompletion.objects.bulk_create(keys, batch_size=2000)
        return list(learner_ids.values())


def _course_urls() -> None:
    for module in Module.objects.filter(course_url=""):
        module.course_url = DEMO_COURSE_URL.format(module.number)
        module.save(update_fields=["course_url"])


def _answers(slug: str, level: int, amount: int | None) -> dict:
    if slug == "engineer":
        return {"annual_compensation": amount, **ENGINEER_ANSWERS[level]}
    return {
        "monthly_recurring_revenue": amount,
        "monthly_api_cost": None if amount is None else amount // 4,
        **FOUNDER_ANSWERS[level],
    }


def _hand_keys(rules: TrackRules, level: int) -> list[int]:
    """Ids of the keys of a level that are ticked by hand (module-linked ones follow modules)."""
    return [key.id for key in rules.keys.get(level, ()) if not key.module_linked]


def _progress_through(
    rules: TrackRules, level: int, graduated: tuple[int, ...], partial: tuple[int, int]
) -> tuple[list[int], list[int]]:
    """Modules and key ids that graduate ``graduated`` levels and start the next one."""
    modules: list[int] = []
    keys: list[int] = []
    for done in graduated:
        modules += rules.stage_modules.get(done, ())
        keys += _hand_keys(rules, done)
    current = max(graduated) + 1 if graduated else level
    if current == MAX_LEVEL:
        # At Driving: every module mastered.
        for lower in range(1, MAX_LEVEL):
            modules += [n for n in rules.stage_modules.get(lower, ()) if n not in modules]
    n_modules, n_keys = partial
    modules += list(rules.stage_modules.get(current, ()))[:n_modules]
    keys += _hand_keys(rules, current)[:n_keys]
    return modules, keys


def _synthetic_person(number: int, rules: CurriculumRules, now) -> dict:
    """A plausible learner, the same for the same number on every run."""
    rng = random.Random(f"synthetic-{number}")  # noqa: S311 - demo data, not security
    slug = rng.choices(["engineer", "founder", None], weights=[55, 40, 5])[0]
    created_at = now - timedelta(days=rng.uniform(1, 180))
    active = rng.random() < 0.7
    learner = {
        "timezone": rng.choice(TIMEZONES),
        "nudges_enabled": rng.random() < 0.9,
        "created_at": created_at,
        "last_activity_at": now - timedelta(days=rng.uniform(0, 40)) if active else None,
        "assessment_submitted_at": None,
    }
    person = {
        "first_name": rng.choice(FIRST_NAMES),
        "last_name": rng.choice(LAST_NAMES),
        "track": slug,
        "cohort": rng.choices(range(4), weights=[30, 30, 25, 15])[0],
        "created_at": created_at,
        "verified": rng.random() < 0.85,
        "learner": learner,
        "modules": [],
        "keys": [],
    }
    if slug is None or rng.random() < 0.12:
        return person  # no self-assessment yet
    track = rules.tracks[slug]
    level = rng.choices([1, 2, 3, 4], weights=[35, 30, 22, 13])[0]
    band = next(band for band in track.bands if band.level == level)
    top = band.max_amount or band.min_amount * 3
    amount = rng.randrange(band.min_amount, top, 1000 if slug == "engineer" else 100)
    if slug == "engineer" and rng.random() < 0.08:
        amount = None  # "prefer not to say"
    # Answers sometimes run ahead of the money: the lower of the two places them.
    answer_level = min(4, level + (rng.random() < 0.2))
    learner.update(_answers(slug, answer_level, amount))
    if slug == "founder" and rng.random() < 0.3:
        learner["monthly_api_cost"] = None
    elif slug == "founder":
        learner["monthly_api_cost"] = int(amount * rng.uniform(0.05, 0.6))
    learner["assessment_submitted_at"] = created_at + timedelta(hours=rng.uniform(1, 72))
    # Progress: earlier stages mostly done, the current one under way.
    for lower in range(1, level):
        person["modules"] += track.stage_modules.get(lower, ())
        hand = _hand_keys(track, lower)
        person["keys"] += rng.sample(hand, rng.randint(len(hand) // 2, len(hand)))
    stage = list(track.stage_modules.get(level, ()))
    person["modules"] += stage[: rng.randint(0, len(stage))]
    hand = _hand_keys(track, level)
    person["keys"] += rng.sample(hand, rng.randint(0, len(hand)))
    return person
