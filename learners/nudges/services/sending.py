"""A worker's chunk of nudges over one SMTP connection: each learner's due nudges checked
again, held to the budget (quiet hours, the weekly cap) and combined into one email, each
row claimed right before its message goes out: sent once, and a worker killed at any moment
leaves at most one email's rows in ``sending``."""

from __future__ import annotations

import logging
import smtplib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from curriculum.selectors import curriculum_rules

from ...models import Learner
from ...placement import Placement
from .. import rules
from ..content import nudge_context, nudge_message
from ..models import Nudge, NudgeStatus
from ..selectors import (
    chunk_placements,
    kinds_off_of,
    level_messages,
    nudge_budget,
    verified_user_ids,
)
from .experiments import experiments_held_out_now

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


@dataclass
class SendReport:
    sent: int = 0  # rows sent (several rows may share one email)
    emails: int = 0
    skipped: int = 0
    deferred: int = 0
    failed: int = 0
    retry_ids: list[int] = field(default_factory=list)


@dataclass
class Email:
    """One learner's due rows, to go out as one email (the first row's kind leads)."""

    learner: Learner
    rows: list[Nudge]


def nudges_send(*, nudge_ids: list[int], now: datetime | None = None) -> SendReport:
    """Send a chunk of nudges over one SMTP connection.

    The learners' other pending rows already due join the chunk, so that what is due for a
    learner at once goes out as one email. Before anything is sent each row's reason is
    checked again (a row whose reason is gone is skipped with that reason), rows in the
    learner's quiet hours or over the weekly cap are deferred (pending, ``not_before`` set,
    handed again by the frequent pass then), and an older row of a kind is superseded by a
    newer one.

    Each email's rows are claimed (pending -> sending) right before it goes out, in the
    commit that records the previous email as sent and re-counts the learner's emails of
    the last 7 days under a lock on the learner (so two workers never both fit under the
    cap). Rows the SMTP server refused go back to pending (``retry_ids``) or to failed
    after ``MAX_ATTEMPTS``. ``now`` is the clock (a seam for tests).
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else timezone.now
    start = clock()
    report = SendReport()
    handed = list(
        Nudge.objects.filter(pk__in=list(nudge_ids), status=NudgeStatus.PENDING)
        .select_related("learner__user", "learner__track")
        .order_by("pk")
    )
    if not handed:
        return report
    others = (
        Nudge.objects.filter(
            Q(not_before__isnull=True) | Q(not_before__lte=start),
            learner_id__in={n.learner_id for n in handed},
            status=NudgeStatus.PENDING,
        )
        .exclude(pk__in=[n.pk for n in handed])
        .select_related("learner__user", "learner__track")
        .order_by("pk")
    )
    emails, placements = _plan(handed + list(others), start, report)
    if not emails:
        return report
    ids = [row.pk for email in emails for row in email.rows]
    render = _renderer(placements, start)
    smtp = get_connection(fail_silently=False)
    try:
        smtp.open()
    except OSError as exc:  # smtplib.SMTPException is an OSError
        logger.warning("SMTP server unreachable for %d nudges: %s", len(ids), exc)
        _record_failure(ids, exc, count_attempt=True)
        report.retry_ids = _still_pending(ids)
        report.failed = len(ids) - len(report.retry_ids)
        return report
    failed_ids = _send_each(smtp, emails, render, clock, report)
    if failed_ids:
        report.retry_ids = _still_pending(ids)
        report.failed = Nudge.objects.filter(pk__in=failed_ids, status=NudgeStatus.FAILED).count()
    return report


def _plan(
    rows: list[Nudge], now: datetime, report: SendReport
) -> tuple[list[Email], dict[int, Placement]]:
    """Skip the rows whose reason is gone, defer those in quiet hours or not yet due, and
    group the rest per learner. A fixed number of queries whatever the chunk's size."""
    by_learner: dict[int, list[Nudge]] = defaultdict(list)
    for row in rows:
        by_learner[row.learner_id].append(row)
    learners = {rows[0].learner_id: rows[0].learner for rows in by_learner.values()}
    placements = chunk_placements(list(learners.values()))
    facts = _send_facts(list(learners.values()), placements)
    budget = nudge_budget()
    held_now = experiments_held_out_now(rows=rows, now=now)
    skipped: dict[str, list[int]] = defaultdict(list)
    deferred: dict[datetime, list[int]] = defaultdict(list)
    emails = []
    for learner_id, learner_rows in by_learner.items():
        learner = learners[learner_id]
        keep = []
        for row in learner_rows:
            reason = rules.stale_reason(row.kind, row.dedup_key, row.created_at, facts[learner_id])
            if not reason and row.pk in held_now:
                reason = rules.HELD_OUT_NOW
            if reason:
                skipped[reason].append(row.pk)
            else:
                keep.append(row)
        # Of two rows of a kind (a deferred next_step and this week's), the newer one goes.
        newest: dict[str, Nudge] = {}
        for row in sorted(keep, key=lambda r: (r.created_at, r.pk)):
            if row.kind in newest:
                skipped[rules.SUPERSEDED].append(newest[row.kind].pk)
            newest[row.kind] = row
        keep = sorted(newest.values(), key=lambda r: (rules.combine_order(r.kind), r.pk))
        if not keep:
            continue
        later = [row for row in keep if row.not_before and row.not_before > now]
        until = rules.quiet_until(now, learner.timezone, budget)
        if until is not None or later:
            wait = until or max(row.not_before for row in later)
            deferred[wait].extend(row.pk for row in keep)
            continue
        emails.append(Email(learner=learner, rows=keep))
    for reason, ids in skipped.items():
        report.skipped += Nudge.objects.filter(pk__in=ids, status=NudgeStatus.PENDING).update(
            status=NudgeStatus.SKIPPED, last_error=reason
        )
    for until, ids in deferred.items():
        report.deferred += _defer(ids, until)
    return emails, placements


def _send_facts(
    learners: list[Learner], placements: dict[int, Placement]
) -> dict[int, rules.SendFacts]:
    """What is true of each learner now, for the relevance check: two queries."""
    verified = verified_user_ids({learner.user_id: learner.user.email for learner in learners})
    kinds_off = kinds_off_of(learner.pk for learner in learners)
    facts = {}
    for learner in learners:
        steps = placements[learner.pk].next_steps
        facts[learner.pk] = rules.SendFacts(
            active=learner.user.is_active,
            nudges_enabled=learner.nudges_enabled,
            kinds_off=kinds_off.get(learner.pk, frozenset()),
            verified=learner.user_id in verified,
            has_assessment=learner.assessment_submitted_at is not None,
            last_activity_at=learner.last_activity_at,
            level=learner.level,
            level_changed_at=learner.level_changed_at,
            nothing_left=steps.maintaining and not steps.modules and not steps.open_keys,
        )
    return facts


def _defer(nudge_ids: list[int], until: datetime) -> int:
    """Still pending, not before ``until``; the frequent pass hands them again then."""
    return Nudge.objects.filter(pk__in=nudge_ids, status=NudgeStatus.PENDING).update(
        not_before=until, handed_at=None
    )


def _renderer(placements: dict[int, Placement], now: datetime) -> Callable[[Email], EmailMessage]:
    """Renders each email as the sending loop reaches it (the chunk's placements and level
    messages are read first, before any connection is opened)."""
    curriculum = curriculum_rules()
    levels = level_messages()

    def render(email: Email) -> EmailMessage:
        learner = email.learner
        context = nudge_context(
            nudges=email.rows,
            learner=learner,
            placement=placements[learner.pk],
            curriculum=curriculum,
            levels=levels,
            now=now,
        )
        return nudge_message(nudge=email.rows[0], learner=learner, context=context)

    return render


def _send_each(
    smtp,
    emails: list[Email],
    render: Callable[[Email], EmailMessage],
    clock: Callable[[], datetime],
    report: SendReport,
) -> list[int]:
    """Claim and send each email in turn; returns the ids the server refused."""
    budget = nudge_budget()
    accepted: list[int] = []  # sent, not yet recorded (one email's rows)
    failed_ids: list[int] = []
    try:
        for email in emails:
            now = clock()
            # The previous email recorded as sent and the next one's rows claimed in one
            # commit (one disk flush per email, not two).
            with transaction.atomic():
                marked = _mark_sent(accepted, now)
                won = _claim_email(email, now, budget.weekly_cap, report)
            report.sent += marked
            accepted = []
            if not won:
                continue  # another worker has them, or the cap deferred them
            email.rows = [row for row in email.rows if row.pk in won]
            try:
                smtp.send_messages([render(email)])
            except smtplib.SMTPServerDisconnected as exc:
                failed_ids.extend(won)
                _record_failure(won, exc, count_attempt=False)
                break  # the rest of the chunk waits for the retry
            except smtplib.SMTPException as exc:
                # The server refused this message; the connection is still usable.
                failed_ids.extend(won)
                _record_failure(won, exc, count_attempt=False)
                continue
            except OSError as exc:
                failed_ids.extend(won)
                _record_failure(won, exc, count_attempt=False)
                break
            accepted = won
            report.emails += 1
    finally:
        # The rows in flight when an unexpected error stopped the loop, if any, stay in
        # ``sending``: the server may have accepted them.
        report.sent += _mark_sent(accepted, clock())
        try:
            smtp.close()
        except OSError:
            logger.debug("SMTP close failed", exc_info=True)
    return failed_ids


def emails_in_cap_window(learner_id: int, now: datetime) -> list[datetime]:
    """When the learner's capped emails of the last 7 days went out: an email counts once
    (a row combined into another row's email is part of that email), and only when one of
    its rows is of a capped kind (a placement or level-up alone is outside the cap). A row
    still ``sending`` counts."""
    rows = Nudge.objects.filter(
        learner_id=learner_id,
        status__in=[NudgeStatus.SENT, NudgeStatus.SENDING],
        sending_started_at__gt=now - rules.CAP_WINDOW,
    ).exclude(kind__in=rules.CAP_EXEMPT_KINDS)
    emails = {}
    for pk, into, at in rows.values_list("pk", "combined_into_id", "sending_started_at"):
        emails[into or pk] = at
    return list(emails.values())


def _claim_email(email: Email, now: datetime, cap: int, report: SendReport) -> list[int]:
    """Inside the caller's transaction: the learner locked, the cap checked against their
    emails so far, then each row claimed (pending -> sending, the conditional update that
    makes a send exclusive; of workers racing for a row, the one whose update counts it won
    it). Rows of kinds outside the cap go even when the cap defers the others. Returns the
    rows won, the first one the email's own."""
    learner_id = email.learner.pk
    # The lock makes "count, then claim" atomic per learner: two workers cannot both fit
    # under the cap. (No-op on SQLite, where writers are serialised anyway.)
    list(Learner.objects.select_for_update().filter(pk=learner_id).values_list("pk", flat=True))
    capped = [row for row in email.rows if row.kind not in rules.CAP_EXEMPT_KINDS]
    if capped:
        until = rules.cap_until(emails_in_cap_window(learner_id, now), now, cap)
        if until is not None:
            report.deferred += _defer([row.pk for row in capped], until)
            email.rows = [row for row in email.rows if row.kind in rules.CAP_EXEMPT_KINDS]
    won: list[int] = []
    for row in email.rows:
        if _claim(row.pk, now, combined_into=won[0] if won else None):
            won.append(row.pk)
    return won


def _claim(nudge_id: int, now: datetime, *, combined_into: int | None) -> bool:
    return bool(
        Nudge.objects.filter(pk=nudge_id, status=NudgeStatus.PENDING).update(
            status=NudgeStatus.SENDING,
            sending_started_at=now,
            attempts=F("attempts") + 1,
            combined_into_id=combined_into,
        )
    )


def _mark_sent(nudge_ids: list[int], now: datetime) -> int:
    """Sending -> sent for the rows of the email the server accepted."""
    if not nudge_ids:
        return 0
    return Nudge.objects.filter(pk__in=nudge_ids, status=NudgeStatus.SENDING).update(
        status=NudgeStatus.SENT, sent_at=now, last_error=""
    )


def _record_failure(nudge_ids: list[int], error: BaseException, *, count_attempt: bool) -> None:
    """Back to pending for a retry, or failed after ``MAX_ATTEMPTS``."""
    attempts = F("attempts") + 1 if count_attempt else F("attempts")
    Nudge.objects.filter(
        pk__in=nudge_ids, status__in=[NudgeStatus.PENDING, NudgeStatus.SENDING]
    ).update(
        attempts=attempts,
        combined_into=None,
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
