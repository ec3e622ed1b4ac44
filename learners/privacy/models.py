"""What remains of an erased account: a digest of its address, never the address."""

from __future__ import annotations

from django.db import models
from django.utils import timezone as dj_timezone


class Suppression(models.Model):
    """An erased learner's address, as a digest (``selectors.email_digest``): a roster
    import or a platform event that brings the address back creates a learner with nudges
    off, until the person opts in again on their profile."""

    email_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"suppression {self.email_digest[:12]}…"
