"""The nudge ledger: one row per (learner, kind, dedup key), so nothing is sent twice."""

from __future__ import annotations

from django.db import models
from django.utils import timezone as dj_timezone
from solo.models import SingletonModel

from . import plan, rules


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
            # The report counts an experiment's rows per state from this index alone (its
            # learners are counted in ExperimentMember).
            models.Index(
                fields=["experiment", "created_at", "status", "not_before"],
                name="nudge_experiment_state",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.learner} ({self.get_status_display()})"


class Experiment(models.Model):
    """A hold-out experiment on one kind: from ``started_at`` to ``ended_at`` (open while
    empty), a share of learners is held out. Planned before it starts: one primary outcome
    and the number of learners that answers it (``plan``). A new share is a new experiment,
    so results never mix (``services.experiments.experiment_set_share``)."""

    kind = models.CharField(
        max_length=32,
        choices=[(k, label) for k, label in NudgeKind.choices if k in rules.EXPERIMENT_KINDS],
    )
    holdout_percent = models.PositiveSmallIntegerField(
        "share held out (%)",
        default=rules.DEFAULT_HOLDOUT_PERCENT,
        help_text="Share of learners held out (no email of this kind), 0-100; 0 turns the "
        "hold-out off.",
    )
    primary_outcome = models.CharField(
        max_length=32,
        choices=[(spec.name, spec.label) for spec in plan.OUTCOMES],
        default=plan.DEFAULT_PRIMARY,
        help_text="The one outcome the experiment answers; the others are shown as secondary.",
    )
    baseline_percent = models.FloatField(
        "baseline rate (%)",
        default=100 * plan.DEFAULT_BASELINE,
        help_text="How many learners reach the primary outcome without the email, in percent.",
    )
    min_lift_points = models.FloatField(
        "smallest lift that matters (points)",
        default=100 * plan.DEFAULT_MIN_LIFT,
        help_text="The smallest rise of the primary outcome worth knowing about, in "
        "percentage points.",
    )
    planned_learners = models.PositiveIntegerField(
        "planned learners",
        default=0,
        help_text="Learners (both groups) needed to find that lift 80 % of the time (5 % "
        "two-sided); 0: no plan (no one or everyone held out).",
    )
    started_at = models.DateTimeField(default=dj_timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    final_report = models.JSONField(
        null=True,
        blank=True,
        editable=False,
        help_text="The report as it stood once every window of the ended experiment had "
        "passed; shown from then on, unchanged.",
    )

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
            models.CheckConstraint(
                condition=models.Q(kind__in=rules.EXPERIMENT_KINDS),
                name="experiment_kind_can_be_held_out",
                violation_error_message="Welcome and level-up emails are transactional: they "
                "cannot be held out.",
            ),
            models.CheckConstraint(
                condition=models.Q(baseline_percent__gt=0, baseline_percent__lt=100),
                name="experiment_baseline_0_100",
                violation_error_message="The baseline rate is a percentage between 0 and 100.",
            ),
            models.CheckConstraint(
                condition=models.Q(min_lift_points__gt=0),
                name="experiment_min_lift_positive",
                violation_error_message="The smallest lift that matters is above 0 points.",
            ),
        ]

    def __str__(self) -> str:
        end = f" to {self.ended_at:%Y-%m-%d}" if self.ended_at else " (running)"
        return (
            f"{self.get_kind_display()}: {self.holdout_percent}% held out from "
            f"{self.started_at:%Y-%m-%d}{end}"
        )

    @property
    def share(self) -> float:
        return self.holdout_percent / 100

    @property
    def primary(self) -> plan.OutcomeSpec:
        return plan.outcome(self.primary_outcome)


class ExperimentMember(models.Model):
    """One learner in one experiment: the group and the moment of the learner's first
    decision in it, written with that decision (``services.experiments.
    experiment_members_add``) and never changed (a learner stays in one group for the whole
    experiment). The report counts and samples an experiment's learners here rather than
    finding each learner's first ledger row again on every read. Erasure deletes the row
    (with the learner) and leaves an ``ErasedObservation`` in its place."""

    experiment = models.ForeignKey(Experiment, on_delete=models.PROTECT, related_name="members")
    learner = models.ForeignKey("learners.Learner", on_delete=models.CASCADE, related_name="+")
    held_out = models.BooleanField()
    decided_at = models.DateTimeField(help_text="The learner's first decision in it.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "learner"], name="experiment_member_once")
        ]
        indexes = [
            # The report's counts, the moment its plan was reached and its sample, read from
            # this index alone.
            models.Index(
                fields=["experiment", "decided_at", "held_out", "learner"],
                name="experiment_member_decided",
            )
        ]

    def __str__(self) -> str:
        group = "held out" if self.held_out else "treated"
        return f"learner {self.learner_id} {group} in experiment {self.experiment_id}"


class ErasedObservation(models.Model):
    """What an erased learner's first decision in an experiment observed, kept without the
    person (no learner, no address): erasure must not take a learner out of one group only.
    Outcomes are those reached by the erasure (the person cannot progress after it)."""

    experiment = models.ForeignKey(
        Experiment, on_delete=models.PROTECT, related_name="erased_observations"
    )
    held_out = models.BooleanField()
    decided_at = models.DateTimeField()
    status = models.CharField(
        max_length=16,
        choices=NudgeStatus.choices,
        blank=True,
        help_text="What became of the first decision's email (blank: its ledger row was gone).",
    )
    progress_at = models.DateTimeField(
        null=True, blank=True, help_text="First progress after the decision, if any."
    )
    level_up_at = models.DateTimeField(
        null=True, blank=True, help_text="First level reached after the decision, if any."
    )
    erased_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["experiment", "decided_at"], name="erased_obs_exp")]

    def __str__(self) -> str:
        return f"erased observation in experiment {self.experiment_id}"


class NudgeBudget(SingletonModel):
    """One row (django-solo, pk 1): the budget on everything a learner receives. A model
    rather than a setting so that instructors change it in the admin, without a deploy; its
    admin page is the row, with the defaults until someone changes them."""

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
