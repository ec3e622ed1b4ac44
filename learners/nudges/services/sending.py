"""A worker's chunk of nudges over one SMTP connection, each row claimed right before its
message goes out: sent once, and a worker killed at any moment leaves at most one row in
``sending``."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from curriculum.selectors import curriculum_rules

from .. import rules
from ..content import nudge_context, nudge_message
from ..models import Nudge, NudgeStatus
from ..selectors import chunk_placements, level_messages, verified_user_ids

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


@dataclass
class SendReport:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retry_ids: list[int] = field(default_factory=list)


def nudges_send(*, nudge_ids: list[int]) -> SendReport:
    """Send a chunk of nudges over one SMTP connection.

    Each row is claimed (pending -> sending) right before its message goes out, in the
    commit that records the previous message as sent, so a row handed twice, or to two
    workers at once, is sent once, and a worker killed at any moment leaves at most one row
    in ``sending``. (Claiming a batch of rows at once saved commits, but a worker killed
    mid-batch left the batch's unsent rows in ``sending`` for good.) Rows the SMTP server
    refused go back to pending (``retry_ids``) or to failed after ``MAX_ATTEMPTS``.
    """
    report = SendReport()
    nudges = list(
        Nudge.objects.filter(pk__in=list(nudge_ids), status=NudgeStatus.PENDING)
        .select_related("learner__user", "learner__track")
        .order_by("pk")
    )
    to_send = _skip_undeliverable(nudges, report) if nudges else []
    if not to_send:
        return report
    ids = [nudge.pk for nudge in to_send]
    messages = _messages(to_send)
    smtp = get_connection(fail_silently=False)
    try:
        smtp.open()
    except OSError as exc:  # smtplib.SMTPException is an OSError
        logger.warning("SMTP server unreachable for %d nudges: %s", len(to_send), exc)
        _record_failure(ids, exc, count_attempt=True)
        report.retry_ids = _still_pending(ids)
        report.failed = len(ids) - len(report.retry_ids)
        return report
    failed_ids = _send_each(smtp, messages, report)
    if failed_ids:
        report.retry_ids = _still_pending(ids)
        report.failed = Nudge.objects.filter(pk__in=failed_ids, status=NudgeStatus.FAILED).count()
    return report


def _skip_undeliverable(nudges: list[Nudge], report: SendReport) -> list[Nudge]:
    """Mark skipped the rows whose learner opted out or lost their verified address since
    the row was created; return the others."""
    verified = verified_user_ids({n.learner.user_id: n.learner.user.email for n in nudges})
    skipped: dict[str, list[int]] = {}
    to_send = []
    for nudge in nudges:
        if not nudge.learner.nudges_enabled:
            skipped.setdefault(rules.OPTED_OUT, []).append(nudge.pk)
        elif nudge.learner.user_id not in verified:
            skipped.setdefault(rules.UNVERIFIED, []).append(nudge.pk)
        else:
            to_send.append(nudge)
    for reason, ids in skipped.items():
        report.skipped += Nudge.objects.filter(pk__in=ids, status=NudgeStatus.PENDING).update(
            status=NudgeStatus.SKIPPED, last_error=reason
        )
    return to_send


def _messages(to_send: list[Nudge]) -> Iterator[tuple[Nudge, EmailMessage]]:
    """Each nudge with its email, rendered as the sending loop reaches it (the chunk's
    placements and level messages are read first, before any connection is opened)."""
    curriculum = curriculum_rules()
    learners = {n.learner_id: n.learner for n in to_send}
    placements = chunk_placements(list(learners.values()), curriculum)
    levels = level_messages()

    def render(nudge: Nudge) -> EmailMessage:
        learner = learners[nudge.learner_id]
        context = nudge_context(
            nudge=nudge,
            learner=learner,
            placement=placements[learner.pk],
            curriculum=curriculum,
            levels=levels,
        )
        return nudge_message(nudge=nudge, learner=learner, context=context)

    return ((nudge, render(nudge)) for nudge in to_send)


def _send_each(
    smtp, messages: Iterator[tuple[Nudge, EmailMessage]], report: SendReport
) -> list[int]:
    """Claim and send each message in turn; returns the ids the server refused."""
    accepted: list[int] = []  # sent, not yet recorded (at most one)
    failed_ids: list[int] = []
    try:
        for nudge, message in messages:
            # The previous message recorded as sent and the next row claimed in one commit
            # (one disk flush per email, not two): a worker killed at any moment has at most
            # one row in ``sending``.
            with transaction.atomic():
                marked = _mark_sent(accepted)
                mine = _claim(nudge.pk)
            report.sent += marked
            accepted = []
            if not mine:
                continue  # another worker has it
            try:
                smtp.send_messages([message])
            except smtplib.SMTPServerDisconnected as exc:
                failed_ids.append(nudge.pk)
                _record_failure([nudge.pk], exc, count_attempt=False)
                break  # the rest of the chunk waits for the retry
            except smtplib.SMTPException as exc:
                # The server refused this message; the connection is still usable.
                failed_ids.append(nudge.pk)
                _record_failure([nudge.pk], exc, count_attempt=False)
                continue
            except OSError as exc:
                failed_ids.append(nudge.pk)
                _record_failure([nudge.pk], exc, count_attempt=False)
                break
            accepted.append(nudge.pk)
    finally:
        # The row in flight when an unexpected error stopped the loop, if any, stays in
        # ``sending``: the server may have accepted it.
        report.sent += _mark_sent(accepted)
        try:
            smtp.close()
        except OSError:
            logger.debug("SMTP close failed", exc_info=True)
    return failed_ids


def _claim(nudge_id: int) -> bool:
    """Pending -> sending, the conditional update that makes a send exclusive: of workers
    racing for the row, the one whose update counts a row won it."""
    return bool(
        Nudge.objects.filter(pk=nudge_id, status=NudgeStatus.PENDING).update(
            status=NudgeStatus.SENDING,
            sending_started_at=timezone.now(),
            attempts=F("attempts") + 1,
        )
    )


def _mark_sent(nudge_ids: list[int]) -> int:
    """Sending -> sent for the messages the server accepted."""
    if not nudge_ids:
        return 0
    return Nudge.objects.filter(pk__in=nudge_ids, status=NudgeStatus.SENDING).update(
        status=NudgeStatus.SENT, sent_at=timezone.now(), last_error=""
    )


def _record_failure(nudge_ids: list[int], error: BaseException, *, count_attempt: bool) -> None:
    """Back to pending for a retry, or failed after ``MAX_ATTEMPTS``."""
    attempts = F("attempts") + 1 if count_attempt else F("attempts")
    Nudge.objects.filter(
        pk__in=nudge_ids, status__in=[NudgeStatus.PENDING, NudgeStatus.SENDING]
    ).update(
        attempts=attempts,
        status=Case(
            When(
                Q(attempts__gte=MAX_ATTEMPTS - (1 if count_attempt else 0)),
                then=Value(NudgeStatus.FAILED),
            ),
            default=Value(NudgeStatus.PENDING),
        ),
        last_error=f"{type(error).__name__}: {error}"[:2000],
    )


def _still_pending(nudge_ids: list[int]) -> list[int]:
    return list(
        Nudge.objects.filter(pk__in=nudge_ids, status=NudgeStatus.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
