"""The nudge ledger: one row per (learner, kind, dedup key), so nothing is sent twice."""

from __future__ import annotations

from django.db import models
from django.utils import timezone as dj_timezone

from . import rules


class NudgeKind(models.TextChoices):
    # The values are the rules' kinds, declared once in ``rules``.
    WELCOME = rules.WELCOME, "Welcome"
    SELF_ASSESSMENT = rules.SELF_ASSESSMENT, "Self-assessment reminder"
    PLACEMENT = rules.PLACEMENT, "Where you start"
    NEXT_STEP = rules.NEXT_STEP, "Next step"
    LEVEL_UP = rules.LEVEL_UP, "Level up"


class NudgeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending (interrupted if it stays here)"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    # Decided and recorded, never sent: the learner is in the experiment's hold-out group.
    HELD_OUT = "held_out", "Held out"


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
    experiment = models.ForeignKey(
        "nudges.Experiment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="nudges",
        help_text="The experiment running for this kind when the nudge was decided.",
    )
    not_before = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Deferred (quiet hours or the weekly cap): not sent before this moment.",
    )
    combined_into = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Sent inside the email of this nudge (several were due at once).",
    )

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
            models.Index(fields=["learner", "sending_started_at"], name="nudge_learner_sending"),
            models.Index(fields=["experiment", "learner", "created_at"], name="nudge_experiment"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.learner} ({self.status})"


class Experiment(models.Model):
    """A hold-out experiment on one kind: from ``started_at`` to ``ended_at`` (open while
    empty), a share of learners is held out. A new share is a new experiment, so results
    never mix (``services.experiments.experiment_set_share``)."""

    kind = models.CharField(max_length=32, choices=NudgeKind.choices)
    holdout_percent = models.PositiveSmallIntegerField(
        default=rules.DEFAULT_HOLDOUT_PERCENT,
        help_text="Share of learners held out (no email), 0-100; 0 turns the hold-out off.",
    )
    started_at = models.DateTimeField(default=dj_timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(ended_at__isnull=True),
                name="experiment_one_open_per_kind",
            ),
            models.CheckConstraint(
                condition=models.Q(holdout_percent__lte=100), name="experiment_percent_0_100"
            ),
        ]

    def __str__(self) -> str:
        end = f" to {self.ended_at:%Y-%m-%d}" if self.ended_at else " (running)"
        return f"{self.kind}: {self.holdout_percent}% held out from {self.started_at:%Y-%m-%d}{end}"


class NudgeBudget(models.Model):
    """One row (pk 1): the budget on everything a learner receives. A model rather than a
    setting so that instructors change it in the admin, without a deploy."""

    weekly_cap = models.PositiveSmallIntegerField(
        default=rules.DEFAULT_WEEKLY_CAP,
        help_text="At most this many nudge emails per learner in any rolling 7 days.",
    )
    quiet_start = models.TimeField(
        default=rules.DEFAULT_QUIET_START, help_text="Quiet hours start (learner's local time)."
    )
    quiet_end = models.TimeField(
        default=rules.DEFAULT_QUIET_END, help_text="Quiet hours end (learner's local time)."
    )

    class Meta:
        verbose_name = "nudge budget"

    def __str__(self) -> str:
        return f"{self.weekly_cap} a week, quiet {self.quiet_start:%H:%M}-{self.quiet_end:%H:%M}"

    def as_rule(self) -> rules.Budget:
        return rules.Budget(self.weekly_cap, self.quiet_start, self.quiet_end)


class NudgePreference(models.Model):
    """A learner's own choices: kinds turned off, and whether the learner turned every nudge
    off (then only the learner turns them back on: not an import, not an instructor)."""

    learner = models.OneToOneField(
        "learners.Learner", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    kinds_off = models.JSONField(default=list, blank=True)
    learner_opted_out_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the learner turned all nudges off; only the learner turns them on.",
    )
    updated_at = models.DateTimeField(default=dj_timezone.now)

    def __str__(self) -> str:
        return f"nudge preferences of {self.learner_id}"
