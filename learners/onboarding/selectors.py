"""Reads: invitations and whether each was accepted; the background roster imports."""

from __future__ import annotations

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db.models import BooleanField, Case, Q, QuerySet, Value, When

from .models import Invitation, RosterImport

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


def roster_imports_visible_to(user) -> QuerySet[RosterImport]:
    """The background imports ``user`` may follow: their own; a superuser's, all.

    An import's file and report quote its rows (addresses, names, answers, refused staff
    rows), including people who are not learners yet: they are the uploader's, as the file
    on their disk is. Another instructor sees the outcome where it matters, in the learner
    list and the admin's history; a superuser may need to see every import to support one.
    """
    imports = RosterImport.objects.select_related("created_by")
    return imports if user.is_superuser else imports.filter(created_by=user)
