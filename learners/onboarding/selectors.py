"""Reads: invitations and whether each was accepted."""

from __future__ import annotations

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db.models import BooleanField, Case, Q, QuerySet, Value, When

from .models import Invitation

# Accepted: the learner has since set a password or signed in (the link's only purpose).
ACCEPTED = Q(learner__user__last_login__isnull=False) | ~Q(
    learner__user__password__startswith=UNUSABLE_PASSWORD_PREFIX
)


def invitations_with_acceptance() -> QuerySet[Invitation]:
    return Invitation.objects.select_related("learner__user", "learner__cohort").annotate(
        accepted=Case(
            When(ACCEPTED, then=Value(True)), default=Value(False), output_field=BooleanField()
        )
    )
