"""The nudge ledger: one row per (learner, kind, dedup key), so nothing is sent twice."""

from __future__ import annotations

from django.db import models
from django.utils import timezone as dj_timezone

from . import rules


class NudgeKind(models.TextChoices):
    # The values are the rules' kinds, declared once in ``rules``.
    WELCOME = rules.WELCOME, "Welcome"
    SELF_ASSESSMENT = rules.SELF_ASSESSMENT, "Self-assessment reminder"
    NEXT_STEP = rules.NEXT_STEP, "Next step"
    LEVEL_UP = rules.LEVEL_UP, "Level up"


class NudgeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending (interrupted if it stays here)"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class Nudge(models.Model):
    """The nudge ledger: one row per (learner, kind, dedup key), so nothing is sent twice."""

    learner = models.ForeignKey("learners.Learner", on_delete=models.CASCADE, related_name="nudges")
    kind = models.CharField(max_length=32, choices=NudgeKind.choices)
    dedup_key = models.CharField(max_length=64)
    status = models.CharField(
        max_length=16, choices=NudgeStatus.choices, default=NudgeStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    handed_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was last handed to a worker."
    )
    sending_started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The table the model had in the learners app: moving it kept every ledger row.
        db_table = "learners_nudge"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["learner", "kind", "dedup_key"], name="nudge_unique_per_dedup_key"
            )
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="nudge_status_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.learner} ({self.status})"
