"""Learners, their self-assessment, their progress and their level history.

The nudge ledger is the ``nudges`` app's: ``learners.nudges.models``.
"""

from __future__ import annotations

import functools
import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone as dj_timezone

from .assessment import BY_NAME

# RFC 5321's limit on a path, and the column's length: a longer address is refused
# everywhere (forms, roster, API), never cut short.
EMAIL_MAX_LENGTH = 254


class UserManager(DjangoUserManager):
    """Users log in with their email address; there is no username."""

    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email=None, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email=None, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    username = None
    email = models.EmailField("email address", unique=True, max_length=EMAIL_MAX_LENGTH)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]
        constraints = [
            # Addresses are one account whatever their case (signup, admin and roster
            # lower-case them; this holds for any other way in).
            models.UniqueConstraint(
                Lower("email"),
                name="user_email_unique_ci",
                violation_error_message="Another account already has this email address.",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email

    @property
    def is_privileged(self) -> bool:
        """A staff or superuser account: see ``account_change_allowed``."""
        return self.is_staff or self.is_superuser


def account_change_allowed(*, account: User | None, actor: User | None) -> bool:
    """Whether ``actor`` (None: an API key or a platform) may change ``account`` or its
    learner profile, or take its personal data. Staff and superuser accounts are changed
    only by a superuser or by themselves: an instructor could otherwise rename an admin,
    reset their password or read their data. The one home of the rule for the admin, the
    roster import and the API."""
    if account is None or not account.is_privileged:
        return True
    if actor is None:
        return False
    return actor.is_superuser or actor.pk == account.pk


def validate_timezone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(f"“{value}” is not a known time zone (IANA name, e.g. Europe/Paris).")


@functools.cache
def available_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class Cohort(models.Model):
    name = models.CharField(max_length=120, unique=True)
    start_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-start_date", "name"]

    def __str__(self) -> str:
        return self.name


class LearnerQuerySet(models.QuerySet):
    def touch(self, **fields) -> int:
        """Update ``fields`` and bump ``version`` in one statement: every write to what a
        learner's pages show goes through here, so their cached progress page goes stale."""
        return self.update(version=models.F("version") + 1, **fields)


class Learner(models.Model):
    """The learner profile: one per user, with the self-assessment answers."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="learner")
    track = models.ForeignKey(
        "curriculum.Track", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cohort = models.ForeignKey(
        Cohort, on_delete=models.SET_NULL, null=True, blank=True, related_name="learners"
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    nudges_enabled = models.BooleanField(default=True)
    assessment_submitted_at = models.DateTimeField(null=True, blank=True)

    # The self-assessment's answers: one field per question of learners.assessment, in its
    # order, of its kind (amount: whole dollars; yes/no; a choice). A test ties them to
    # QUESTIONS (tests/learners/test_assessment.py); a new question is a field here too.
    annual_compensation = models.PositiveBigIntegerField(null=True, blank=True)
    monthly_recurring_revenue = models.PositiveBigIntegerField(null=True, blank=True)
    monthly_api_cost = models.PositiveBigIntegerField(null=True, blank=True)
    can_explain_concepts = models.BooleanField(null=True, blank=True)
    can_implement_from_scratch = models.BooleanField(null=True, blank=True)
    deployed_at_scale = models.BooleanField(null=True, blank=True)
    seen_as = models.CharField(max_length=16, choices=BY_NAME["seen_as"].choices, blank=True)
    leads_initiatives = models.BooleanField(null=True, blank=True)
    owns_model_weights = models.BooleanField(null=True, blank=True)
    replicable_by_competitors = models.BooleanField(null=True, blank=True)
    investor_fundable = models.BooleanField(null=True, blank=True)

    # Kept from the placement rule so that lists can filter and count by level.
    level = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(4)]
    )
    level_changed_at = models.DateTimeField(null=True, blank=True)
    # When the learner was first placed (their first recompute with a self-assessment, from
    # the profile page, an import, the API or demo data): changes before it are no moves,
    # and the placement itself is "where you start", never a level-up.
    placed_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    # Bumped by every write through the services (``Learner.objects.touch``): the progress
    # page caches its rendered body under this version.
    version = models.PositiveIntegerField(default=0, editable=False)

    objects = LearnerQuerySet.as_manager()

    class Meta:
        ordering = ["user__email"]
        constraints = [
            models.CheckConstraint(
                condition=Q(level__gte=1) & Q(level__lte=4), name="learner_level_1_4"
            ),
        ]
        indexes = [
            models.Index(fields=["track", "level"], name="learner_track_level"),
            models.Index(fields=["last_activity_at"], name="learner_last_activity"),
        ]

    def __str__(self) -> str:
        return self.user.display_name

    @property
    def has_assessment(self) -> bool:
        return self.assessment_submitted_at is not None


class CompletionSource(models.TextChoices):
    LEARNER = "learner", "Learner"
    INSTRUCTOR = "instructor", "Instructor"
    IMPORT = "import", "Roster import"
    API = "api", "API"
    PLATFORM = "platform", "Course platform"


class Completion(models.Model):
    """When an item was completed, and by whom: the learner, an instructor, an import, the
    API or a course platform."""

    completed_at = models.DateTimeField(default=dj_timezone.now)
    source = models.CharField(
        max_length=16, choices=CompletionSource.choices, default=CompletionSource.LEARNER
    )
    recorded_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Where an API or platform completion came from: the API key, or the platform's name
    # that the student sees ("Completed on Thinkific").
    via = models.CharField(max_length=120, blank=True)

    class Meta:
        abstract = True


class ModuleProgress(Completion):
    """A module the learner completed."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="module_progress")
    module = models.ForeignKey("curriculum.Module", on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["module__number"]
        verbose_name_plural = "module progress"
        constraints = [
            models.UniqueConstraint(fields=["learner", "module"], name="moduleprogress_unique")
        ]

    def __str__(self) -> str:
        return f"{self.learner} completed module {self.module.number}"


class KeyCompletion(Completion):
    """A key to success the learner ticked off."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="key_completions")
    key = models.ForeignKey("curriculum.Key", on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["key_id"]
        constraints = [
            models.UniqueConstraint(fields=["learner", "key"], name="keycompletion_unique")
        ]

    def __str__(self) -> str:
        return f"{self.learner} completed key {self.key.code}"


class LevelChange(models.Model):
    """History: every change of a learner's level with the reasons at that time."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="level_changes")
    # Empty for the first placement: where the learner starts, not a move.
    from_level = models.PositiveSmallIntegerField(null=True, blank=True)
    to_level = models.PositiveSmallIntegerField()
    changed_at = models.DateTimeField(default=dj_timezone.now)
    reasons = models.JSONField(default=list)
    # Made by the Undo of a tick's toast: the student's history leaves it out together with
    # the change it reversed (every other change stays, however soon it was reversed).
    undo = models.BooleanField(default=False)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["changed_at"], name="levelchange_changed_at")]

    def __str__(self) -> str:
        return f"{self.learner}: {self.from_level} → {self.to_level}"

    @property
    def is_placement(self) -> bool:
        return self.from_level is None

    @property
    def went_up(self) -> bool:
        """A move up; a placement never is one."""
        return self.from_level is not None and self.to_level > self.from_level
