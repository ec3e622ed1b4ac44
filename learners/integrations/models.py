"""API keys, platform connections with their module mappings, and webhook events."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ApiScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"


class ApiKey(models.Model):
    """A key of one integration. Only its hash is stored; the key is shown once."""

    name = models.CharField(max_length=120, help_text="Who uses this key, e.g. “Zapier”.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    hashed_key = models.CharField(max_length=64, editable=False)
    scope = models.CharField(max_length=8, choices=ApiScope.choices, default=ApiScope.READ)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_write(self) -> bool:
        return self.scope == ApiScope.WRITE

    @property
    def label(self) -> str:
        """How a completion it wrote names it."""
        return f"API key {self.name} ({self.prefix})"


class PlatformKind(models.TextChoices):
    STANDARD = "standard", "Standard Webhooks"
    THINKIFIC = "thinkific", "Thinkific"
    TEACHABLE = "teachable", "Teachable"


class PlatformConnection(models.Model):
    """A course platform sending webhooks to ``/webhooks/<slug>/``."""

    name = models.CharField(
        max_length=60, help_text="Shown to students: “Completed on <name>”, e.g. Thinkific."
    )
    slug = models.SlugField(
        max_length=60,
        unique=True,
        help_text="The receiver's address: /webhooks/<slug>/.",
        validators=[RegexValidator(r"^[a-z0-9-]+$", "Lower-case letters, digits and dashes.")],
    )
    kind = models.CharField(max_length=16, choices=PlatformKind.choices)
    secrets = models.TextField(
        help_text=(
            "Signing secrets, one per line. During a rotation list the new and the old one; "
            "a delivery signed with any of them is accepted. Standard Webhooks: whsec_…; "
            "Thinkific: the app's client secret; Teachable: the webhook's signing secret."
        )
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def secret_list(self) -> list[str]:
        return [line.strip() for line in self.secrets.splitlines() if line.strip()]


class ModuleMapping(models.Model):
    """A platform course (and optionally one of its lessons) that completes a module.

    Without a lesson, the course's completion completes the module; with one, completing
    that lesson (e.g. the module's last lesson) does.
    """

    connection = models.ForeignKey(
        PlatformConnection, on_delete=models.CASCADE, related_name="mappings"
    )
    course_id = models.CharField(max_length=64, help_text="The platform's course id.")
    lesson_id = models.CharField(
        max_length=64,
        blank=True,
        help_text="The platform's lesson (lecture) id; blank = completing the whole course.",
    )
    module = models.ForeignKey("curriculum.Module", on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["connection", "course_id", "lesson_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "course_id", "lesson_id"], name="modulemapping_unique"
            )
        ]

    def __str__(self) -> str:
        where = f"course {self.course_id}" + (
            f", lesson {self.lesson_id}" if self.lesson_id else ""
        )
        return f"{where} → module {self.module_id}"


class EventStatus(models.TextChoices):
    RECEIVED = "received", "Received (waiting for a worker)"
    PROCESSED = "processed", "Processed"
    DUPLICATE = "duplicate", "Duplicate (same event id already received)"
    UNMATCHED = "unmatched", "Unmatched (no learner with that email yet)"
    UNMAPPED = "unmapped", "Unmapped (course or lesson not mapped to a module)"
    IGNORED = "ignored", "Ignored (nothing to record)"
    REJECTED = "rejected", "Rejected (signature or timestamp)"
    FAILED = "failed", "Failed"


class WebhookEvent(models.Model):
    """One delivery to a receiver, as it arrived, and what became of it."""

    connection = models.ForeignKey(
        PlatformConnection, on_delete=models.CASCADE, related_name="events"
    )
    event_id = models.CharField(max_length=255, blank=True)
    # The event id of the first accepted delivery; NULL on duplicates and rejected ones, so
    # that the constraint lets a platform's event through once.
    dedup_key = models.CharField(  # noqa: DJ001 - NULLs are distinct in the constraint
        max_length=255, null=True, blank=True, editable=False
    )
    topic = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=EventStatus.choices, default=EventStatus.RECEIVED
    )
    received_at = models.DateTimeField(default=timezone.now)
    occurred_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    body = models.BinaryField()
    headers = models.JSONField(default=dict)
    email = models.EmailField(blank=True, db_index=True)
    course_id = models.CharField(max_length=64, blank=True)
    lesson_id = models.CharField(max_length=64, blank=True)
    learner = models.ForeignKey(
        "learners.Learner", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    module = models.ForeignKey(
        "curriculum.Module", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "dedup_key"],
                condition=Q(dedup_key__isnull=False),
                name="webhookevent_once",
            )
        ]
        indexes = [models.Index(fields=["status", "email"], name="webhookevent_status_email")]

    def __str__(self) -> str:
        return f"{self.connection.slug} {self.topic or '?'} {self.event_id} ({self.status})"

    @property
    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")
