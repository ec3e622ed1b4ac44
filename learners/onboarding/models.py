"""Invitations sent to imported learners, and roster imports run in the background."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone as dj_timezone


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Invitation(models.Model):
    """The one invitation a learner gets to set their password (unique per learner).

    Whether it was accepted is not stored: it is whether the learner has since set a password
    or signed in (``selectors.invitations_with_acceptance``), read from the account itself.
    """

    learner = models.OneToOneField(
        "learners.Learner", on_delete=models.CASCADE, related_name="invitation"
    )
    status = models.CharField(
        max_length=16, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    # Who ran the import (None: the command).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=dj_timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status"], name="invitation_status")]

    def __str__(self) -> str:
        return f"invitation of learner {self.learner_id} ({self.status})"


class RosterImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Imported"
    FAILED = "failed", "Nothing imported"


class RosterImport(models.Model):
    """A confirmed roster import run by a worker (large files): all rows or none.

    The file's text is kept only until the import ends; the report stays.
    """

    content = models.TextField(blank=True)
    invite = models.BooleanField(default=False)
    rows = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=RosterImportStatus.choices, default=RosterImportStatus.QUEUED
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=dj_timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The outcome: the counts of ImportReport, its first errors, or the failure.
    report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Roster import {self.pk} ({self.get_status_display()})"

    @property
    def finished(self) -> bool:
        return self.status in (RosterImportStatus.DONE, RosterImportStatus.FAILED)
