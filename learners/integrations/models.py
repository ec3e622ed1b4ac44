"""API keys, platform connections with their module mappings, webhook events and the
small record of refused deliveries."""

from __future__ import annotations

import secrets as random_secrets

from django.conf import settings
from django.core.cache import cache
from django.core.validators import RegexValidator
from django.db import models, transaction
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


def new_url_token() -> str:
    """The secret part of a connection's webhook URL: 256 random bits."""
    return random_secrets.token_urlsafe(32)


# The receiver reads its connection on every delivery: an active one is kept in the shared
# cache (selectors.connection_by_slug) and dropped on every change (a save or delete, through
# receivers; an update, through the queryset), so that a rotated secret or token, a
# deactivation or a new slug applies from the next delivery. The timeout bounds what a read
# racing a change could keep. The ORM's query cost 1.3 ms of CPU per delivery, a quarter
# of the receiver's (bench/results/2026-12-07-webhooks-batched.md).
CONNECTION_CACHE_SECONDS = 10


def connection_cache_key(slug: str) -> str:
    return f"integrations:connection:{slug}"


def connections_forget(slugs) -> None:
    """Drop the cached connections now and once the caller's transaction commits (a read
    between the two would otherwise keep the row as it was)."""
    keys = [connection_cache_key(slug) for slug in slugs if slug]
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


class PlatformConnectionQuerySet(models.QuerySet):
    def update(self, **kwargs):
        slugs = list(self.values_list("slug", flat=True))
        count = super().update(**kwargs)
        connections_forget([*slugs, kwargs.get("slug", "")])
        return count


class PlatformConnection(models.Model):
    """A course platform sending webhooks to ``/webhooks/{slug}/{url_token}/``.

    Teachable signs nothing: the unguessable token in the URL is what authenticates it.
    Standard Webhooks and Thinkific deliveries are authenticated by their signature (the
    token URL and the plain ``/webhooks/{slug}/`` both work for them). ``secrets`` and the
    token are set and rotated only by holders of ``set_platform_secrets``.
    """

    name = models.CharField(
        max_length=60, help_text="Shown to students: “Completed on Thinkific”, for example."
    )
    slug = models.SlugField(
        max_length=60,
        unique=True,
        help_text="Lower-case letters, digits and dashes; part of the webhook URL.",
        validators=[RegexValidator(r"^[a-z0-9-]+$", "Lower-case letters, digits and dashes.")],
    )
    kind = models.CharField(max_length=16, choices=PlatformKind.choices)
    secrets = models.TextField(
        blank=True,
        help_text=(
            "Signing secrets, one per line (write-only). Standard Webhooks: whsec_…; "
            "Thinkific: the app's client secret, or the site's API key for webhooks made "
            "through the API; Teachable: none (its URL token authenticates it)."
        ),
    )
    url_token = models.CharField(max_length=64, unique=True, default=new_url_token, editable=False)
    # The token before the last rotation, still accepted until ``previous_url_token_until``.
    previous_url_token = models.CharField(max_length=64, blank=True, editable=False)
    previous_url_token_until = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = PlatformConnectionQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        permissions = [
            (
                "set_platform_secrets",
                "Can set and rotate platform signing secrets and webhook URL tokens",
            )
        ]

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
    # Kept for deliveries refused before refusals stopped being stored as events.
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
        indexes = [
            models.Index(fields=["status", "email"], name="webhookevent_status_email"),
            # The events waiting for a worker, oldest first: a batch's claim reads only these
            # (services.processing), however many events were settled before.
            models.Index(
                fields=["id"],
                condition=Q(status="received"),
                name="webhookevent_received",
            ),
        ]

    def __str__(self) -> str:
        status = self.get_status_display()
        return f"{self.connection.slug} {self.topic or '?'} {self.event_id} ({status})"

    @property
    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")


class DeliveryRefusal(models.Model):
    """A delivery refused before it was read as an event (no body is ever kept): why, when,
    how big and from where. At most ``REFUSALS_KEPT`` per connection are kept."""

    connection = models.ForeignKey(
        PlatformConnection, on_delete=models.CASCADE, related_name="refusals"
    )
    received_at = models.DateTimeField(default=timezone.now)
    status = models.PositiveSmallIntegerField(help_text="The HTTP status answered.")
    reason = models.CharField(max_length=200)
    size = models.PositiveIntegerField(help_text="The body's declared size in bytes.")
    client_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["connection", "-received_at"], name="refusal_connection_time")
        ]

    def __str__(self) -> str:
        return f"{self.connection.slug}: {self.status} {self.reason}"
