"""Invitations: one email per imported learner with a link to set their password.

The link is allauth's password reset from key (``account_reset_password_from_key``) with a
token of allauth's password reset token generator, so it works like a reset link: once, and
for ``PASSWORD_RESET_TIMEOUT`` seconds. Rows are written in the import's transaction and the
emails go out after the commit, from a Celery task (``tasks.invitations_send_task``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from allauth.account import app_settings as allauth_settings
from allauth.account.models import EmailAddress
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from ..broker import task_hand_on_commit
from ..models import Learner, User
from ..privacy.selectors import suppressed_emails
from .models import Invitation, InvitationStatus
from .selectors import ACCEPTED

logger = logging.getLogger(__name__)

BATCH_SIZE = 500  # invitations per query, and per task (one SMTP connection each)


def password_set_url(user: User) -> str:
    """An absolute link to allauth's set-a-new-password page for ``user``, with a fresh token."""
    token = allauth_settings.PASSWORD_RESET_TOKEN_GENERATOR().make_token(user)
    path = reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(user), "key": token},
    )
    return f"{settings.SITE_URL}{path}"


def invitable(queryset):
    """Learners who may be invited: a learner's own active account that never had a password
    nor a sign-in, and no invitation yet. Staff and superusers never are."""
    return queryset.filter(
        user__is_active=True,
        user__is_staff=False,
        user__is_superuser=False,
        user__last_login__isnull=True,
        user__password__startswith=UNUSABLE_PASSWORD_PREFIX,
        invitation__isnull=True,
    )


def invitations_create(*, learner_ids: Iterable[int], created_by: User | None = None) -> int:
    """Record an invitation for each of these learners who may get one, and send them after
    the commit. Erased (suppressed) addresses are never invited. Returns how many."""
    learner_ids = list(learner_ids)
    created: list[int] = []
    for start in range(0, len(learner_ids), BATCH_SIZE):
        batch = learner_ids[start : start + BATCH_SIZE]
        candidates = dict(
            invitable(Learner.objects.filter(pk__in=batch)).values_list("pk", "user__email")
        )
        suppressed = suppressed_emails(list(candidates.values()))
        Invitation.objects.bulk_create(
            [
                Invitation(learner_id=learner_id, created_by=created_by)
                for learner_id, email in candidates.items()
                if email.lower() not in suppressed
            ],
            ignore_conflicts=True,  # once per learner, even with two imports at once
        )
        created += Invitation.objects.filter(
            learner_id__in=list(candidates), status=InvitationStatus.PENDING, sent_at=None
        ).values_list("pk", flat=True)
    _send_after_commit(created)
    return len(created)


def invitations_resend(*, invitation_ids: Iterable[int]) -> int:
    """Send failed invitations again (a link that was not accepted yet). Returns how many."""
    ids = list(
        Invitation.objects.filter(pk__in=list(invitation_ids), status=InvitationStatus.FAILED)
        .exclude(ACCEPTED)
        .values_list("pk", flat=True)
    )
    Invitation.objects.filter(pk__in=ids).update(status=InvitationStatus.PENDING, error="")
    _send_after_commit(ids)
    return len(ids)


def _send_after_commit(invitation_ids: list[int]) -> None:
    from .tasks import invitations_send_task

    for start in range(0, len(invitation_ids), BATCH_SIZE):
        task_hand_on_commit(invitations_send_task, invitation_ids[start : start + BATCH_SIZE])


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0


def invitations_send(*, invitation_ids: list[int]) -> SendReport:
    """Send these pending invitations over one SMTP connection.

    Each row is claimed (pending -> sending) before its email goes out, so a redelivered task
    never sends one twice; an SMTP failure marks it failed (the admin can send it again).
    """
    report = SendReport()
    pending = Invitation.objects.filter(pk__in=invitation_ids, status=InvitationStatus.PENDING)
    connection = get_connection(fail_silently=False)
    for invitation in pending.select_related("learner__user", "learner__cohort"):
        claimed = Invitation.objects.filter(
            pk=invitation.pk, status=InvitationStatus.PENDING
        ).update(status=InvitationStatus.SENDING)
        if not claimed:
            continue
        try:
            connection.send_messages([invitation_message(invitation.learner)])
        except Exception as error:  # noqa: BLE001 - any SMTP or network failure
            logger.warning("Invitation %s not sent: %s", invitation.pk, error)
            Invitation.objects.filter(pk=invitation.pk).update(
                status=InvitationStatus.FAILED, error=str(error)[:500]
            )
            report.failed += 1
            continue
        Invitation.objects.filter(pk=invitation.pk).update(
            status=InvitationStatus.SENT, sent_at=timezone.now()
        )
        report.sent += 1
    connection.close()
    return report


def invitation_message(learner: Learner) -> EmailMultiAlternatives:
    user = learner.user
    context = {
        "user": user,
        "learner": learner,
        "cohort": learner.cohort,
        "action_url": password_set_url(user),
        "valid_days": max(settings.PASSWORD_RESET_TIMEOUT // 86400, 1),
        "sign_in_url": f"{settings.SITE_URL}{reverse('account_login')}",
        "reset_url": f"{settings.SITE_URL}{reverse('account_reset_password')}",
    }
    base = "onboarding/email/invitation"
    subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{base}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )
    message.attach_alternative(render_to_string(f"{base}.html", context), "text/html")
    return message


def invitation_accept(*, user: User) -> None:
    """An invited learner set their password through the emailed link, which proves the
    address is theirs: it counts as verified, so signing in needs no second email."""
    if not Invitation.objects.filter(learner__user=user).exists():
        return
    address = EmailAddress.objects.filter(user=user, email__iexact=user.email).first()
    if address is None:
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    elif not address.verified:
        address.verified = True
        address.save(update_fields=["verified"])
