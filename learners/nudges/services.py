"""Writes for nudges: the ledger, handing rows to workers, sending, unsubscribing.

Never twice: a row is unique per (learner, kind, dedup key); a worker sends a row only after
claiming it with a conditional UPDATE pending -> sending, and a row left in ``sending`` (the
SMTP server may have accepted it) is never sent again by the machinery. Never lost: a row is
claimed only right before its message goes to the SMTP server, so a worker killed mid-chunk
leaves in ``sending`` at most the message it was handing over, and the rest pending.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import get_connection
from django.db import connection, transaction
from django.db.models import Case, Count, F, Q, Value, When
from django.utils import timezone
from kombu.exceptions import OperationalError

from ..models import Learner, LevelChange, Nudge, NudgeStatus, User
from ..selectors import curriculum_rules
from . import rules
from .content import nudge_context, nudge_message, unsubscribe_learner_id
from .rules import Decision, LearnerFacts
from .selectors import (
    FACT_FIELDS,
    chunk_placements,
    learners_for_sweep,
    level_messages,
    nudge_facts,
    verified_user_ids,
)

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# The frequent pass hands again a pending row handed this long ago (its task was lost).
HAND_AGAIN_AFTER = timedelta(hours=1)
# ...and leaves alone a row created a moment ago, which its creator is handing right now.
HAND_GRACE = timedelta(minutes=1)


@dataclass
class KindCounts:
    due: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0


@dataclass
class SweepReport:
    at: datetime
    learners: int = 0
    chunks: int = 0
    handed: int = 0  # chunks handed to a worker (or sent in-process)
    not_handed: int = 0  # chunks left for the frequent pass (broker unreachable)
    kinds: dict[str, KindCounts] = field(
        default_factory=lambda: {kind: KindCounts() for kind in rules.KINDS}
    )


@dataclass
class SendReport:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retry_ids: list[int] = field(default_factory=list)


# --- Creating ledger rows and handing them to workers ------------------------------------


class _Handoff:
    """Hands lists of nudge ids to a worker after commit; remembers a broker outage so a
    sweep stops trying (the frequent pass hands those rows once the broker is back)."""

    def __init__(self) -> None:
        self.broker_down = False
        self.handed = 0
        self.not_handed = 0

    def on_commit(self, nudge_ids: list[int]) -> None:
        if nudge_ids:
            transaction.on_commit(lambda: self.hand(nudge_ids))

    def hand(self, nudge_ids: list[int]) -> bool:
        if self.broker_down or not nudges_hand(nudge_ids=nudge_ids):
            self.broker_down = True
            self.not_handed += 1
            return False
        self.handed += 1
        return True


def nudges_hand(*, nudge_ids: list[int]) -> bool:
    """Publish one chunk task; on success stamp ``handed_at``.

    Celery's ``delay_on_commit`` would raise from inside the commit hook when Redis is
    down, failing the web request that created the nudge; instead the error is logged
    and the rows stay pending with ``handed_at`` empty for the frequent pass.
    """
    from .tasks import nudges_send_chunk

    try:
        nudges_send_chunk.delay(list(nudge_ids))
    except OperationalError as exc:
        logger.warning(
            "Broker unreachable; %d nudges left for the next pass: %s", len(nudge_ids), exc
        )
        return False
    Nudge.objects.filter(pk__in=nudge_ids).update(handed_at=timezone.now())
    return True


def _ledger_add(due: list[Decision], now: datetime) -> list[int]:
    """Insert the due rows (a duplicate is ignored by the unique constraint) and return the
    ids of this batch's rows still waiting for a worker. Two queries."""
    Nudge.objects.bulk_create(
        [
            Nudge(learner_id=d.learner_id, kind=d.kind, dedup_key=d.dedup_key, created_at=now)
            for d in due
        ],
        ignore_conflicts=True,
    )
    wanted = Q()
    for kind in {d.kind for d in due}:
        wanted |= Q(kind=kind, dedup_key__in={d.dedup_key for d in due if d.kind == kind})
    return list(
        Nudge.objects.filter(
            wanted,
            learner_id__in={d.learner_id for d in due},
            status=NudgeStatus.PENDING,
            handed_at__isnull=True,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def nudges_sweep(
    *, now: datetime | None = None, chunk_size: int | None = None, dry_run: bool = False
) -> SweepReport:
    """Decide every learner's nudges as of ``now`` and hand each chunk's new rows to a worker.

    A chunk costs a fixed number of queries: learners, verified addresses, latest ledger
    rows, one bulk insert, the new rows' ids, and (after commit) one update of ``handed_at``.
    """
    now = now or timezone.now()
    chunk_size = chunk_size or settings.LEARNER_CHUNK_SIZE
    report = SweepReport(at=now)
    handoff = _Handoff()
    base = learners_for_sweep()
    last_pk = 0
    while True:
        chunk = list(base.filter(pk__gt=last_pk)[:chunk_size])
        if not chunk:
            break
        last_pk = chunk[-1].pk
        report.chunks += 1
        report.learners += len(chunk)
        decisions = [d for facts in nudge_facts(chunk) for d in rules.decide(facts, now)]
        for decision in decisions:
            counts = report.kinds[decision.kind]
            if decision.due:
                counts.due += 1
            else:
                counts.skipped += 1
        due = [d for d in decisions if d.due]
        if dry_run or not due:
            continue
        with transaction.atomic():
            handoff.on_commit(_ledger_add(due, now))
    report.handed, report.not_handed = handoff.handed, handoff.not_handed
    if not dry_run:
        for kind, status, n in (
            Nudge.objects.filter(created_at=now)
            .order_by()
            .values_list("kind", "status")
            .annotate(n=Count("pk"))
        ):
            counts = report.kinds[kind]
            if status == NudgeStatus.SENT:
                counts.sent += n
            elif status == NudgeStatus.FAILED:
                counts.failed += n
            elif status == NudgeStatus.SKIPPED:
                counts.skipped += n
    return report


def nudges_hand_pending(*, now: datetime | None = None, chunk_size: int | None = None) -> int:
    """The frequent pass: hand to workers pending rows that never reached one (the broker
    was down) or were handed long ago. Rows in ``sending`` are left alone. Returns how many
    rows were handed."""
    now = now or timezone.now()
    chunk_size = chunk_size or settings.LEARNER_CHUNK_SIZE
    ids = list(
        Nudge.objects.filter(
            Q(handed_at__isnull=True, created_at__lte=now - HAND_GRACE)
            | Q(handed_at__lte=now - HAND_AGAIN_AFTER),
            status=NudgeStatus.PENDING,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    handoff = _Handoff()
    handed = 0
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start : start + chunk_size]
        if not handoff.hand(chunk):
            break
        handed += len(chunk)
    return handed


def _learner_facts(learner: Learner) -> LearnerFacts:
    return nudge_facts([learner])[0]


def _ledger_create_one(decision: Decision, now: datetime) -> Nudge | None:
    if not decision.due:
        logger.info(
            "No %s nudge to learner %s: %s",
            decision.kind,
            decision.learner_id,
            decision.skip_reason,
        )
        return None
    nudge, created = Nudge.objects.get_or_create(
        learner_id=decision.learner_id,
        kind=decision.kind,
        dedup_key=decision.dedup_key,
        defaults={"created_at": now},
    )
    if created:
        _Handoff().on_commit([nudge.pk])
    return nudge if created else None


def nudge_level_up(
    *, learner: Learner, change: LevelChange, now: datetime | None = None
) -> Nudge | None:
    """Called when a learner's level went up (inside the transaction that changed it): the
    ledger row for the level reached, handed to a worker once that transaction commits."""
    decision = rules.level_up_decision(
        _learner_facts(learner), from_level=change.from_level, to_level=change.to_level
    )
    return _ledger_create_one(decision, now or timezone.now())


def nudges_level_up_many(*, changes: list[LevelChange], now: datetime | None = None) -> int:
    """The level_up rows for a chunk of level changes made in bulk (recompute after a
    curriculum edit or an import), inside the caller's transaction: a fixed number of
    queries whatever the chunk's size. Returns how many rows were due."""
    went_up = {change.learner_id: change for change in changes if change.went_up}
    if not went_up:
        return 0
    learners = list(learners_for_sweep().filter(pk__in=list(went_up)))
    decisions = [
        rules.level_up_decision(
            facts,
            from_level=went_up[facts.learner_id].from_level,
            to_level=went_up[facts.learner_id].to_level,
        )
        for facts in nudge_facts(learners)
    ]
    due = [d for d in decisions if d.due]
    if due:
        _Handoff().on_commit(_ledger_add(due, now or timezone.now()))
    return len(due)


def nudge_welcome(*, user: User, now: datetime | None = None) -> Nudge | None:
    """Called when an address was confirmed: the welcome, once."""
    learner = Learner.objects.filter(user=user).select_related("user").only(*FACT_FIELDS).first()
    if learner is None:
        return None
    decision = rules.welcome_decision(_learner_facts(learner))
    return _ledger_create_one(decision, now or timezone.now()) if decision else None


def nudge_send_now(*, learner_ids: Iterable[int], now: datetime | None = None) -> int:
    """An instructor's "send a next-step nudge now" for these learners (those who opted out
    or have no verified address are left out). At most one per learner and local day.
    Returns how many nudges were queued."""
    now = now or timezone.now()
    ids = sorted(set(learner_ids))
    handoff = _Handoff()
    queued = 0
    chunk_size = settings.LEARNER_CHUNK_SIZE
    for start in range(0, len(ids), chunk_size):
        chunk = list(learners_for_sweep().filter(pk__in=ids[start : start + chunk_size]))
        due = [
            d
            for d in (rules.manual_next_step_decision(f, now) for f in nudge_facts(chunk))
            if d.due
        ]
        if not due:
            continue
        with transaction.atomic():
            nudge_ids = _ledger_add(due, now)
            handoff.on_commit(nudge_ids)
        queued += len(nudge_ids)
    return queued


# --- Sending -----------------------------------------------------------------------------


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


def nudges_send(*, nudge_ids: list[int]) -> SendReport:
    """Send a chunk of nudges over one SMTP connection.

    Each row is claimed (pending -> sending) right before its message goes out, in the same
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
    if not nudges:
        return report
    verified = verified_user_ids({n.learner.user_id: n.learner.user.email for n in nudges})
    skipped: dict[str, list[int]] = {}
    to_send = []
    for nudge in nudges:
        reason = (
            rules.OPTED_OUT
            if not nudge.learner.nudges_enabled
            else ("" if nudge.learner.user_id in verified else rules.UNVERIFIED)
        )
        if reason:
            skipped.setdefault(reason, []).append(nudge.pk)
        else:
            to_send.append(nudge)
    for reason, ids in skipped.items():
        report.skipped += Nudge.objects.filter(pk__in=ids, status=NudgeStatus.PENDING).update(
            status=NudgeStatus.SKIPPED, last_error=reason
        )
    if not to_send:
        return report

    curriculum = curriculum_rules()
    learners = {n.learner_id: n.learner for n in to_send}
    placements = chunk_placements(list(learners.values()), curriculum)
    levels = level_messages()

    smtp = get_connection(fail_silently=False)
    try:
        smtp.open()
    except OSError as exc:  # smtplib.SMTPException is an OSError
        logger.warning("SMTP server unreachable for %d nudges: %s", len(to_send), exc)
        ids = [n.pk for n in to_send]
        _record_failure(ids, exc, count_attempt=True)
        report.retry_ids = _still_pending(ids)
        report.failed = len(ids) - len(report.retry_ids)
        return report

    accepted: list[int] = []  # sent, not yet recorded (at most one)
    failed_ids: list[int] = []
    try:
        for nudge in to_send:
            learner = learners[nudge.learner_id]
            context = nudge_context(
                nudge=nudge,
                learner=learner,
                placement=placements[learner.pk],
                curriculum=curriculum,
                levels=levels,
            )
            message = nudge_message(nudge=nudge, learner=learner, context=context)
            marked, mine = _claim_next(nudge.pk, sent=accepted)
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
    if failed_ids:
        report.retry_ids = _still_pending([nudge.pk for nudge in to_send])
        report.failed = Nudge.objects.filter(pk__in=failed_ids, status=NudgeStatus.FAILED).count()
    return report


def _claim_next(nudge_id: int, *, sent: list[int]) -> tuple[int, bool]:
    """Record the messages the server accepted (sending -> sent) and claim the next row
    (pending -> sending) in one statement, committed at once: one round trip per email.
    Returns (rows recorded as sent, whether this worker won the next row)."""
    if not sent:
        return 0, bool(_claim([nudge_id]))
    table = connection.ops.quote_name(Nudge._meta.db_table)
    marks = ", ".join(["%s"] * len(sent))
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET "  # noqa: S608 - only placeholders are interpolated
            "status = CASE WHEN id = %s THEN %s ELSE %s END, "
            "attempts = CASE WHEN id = %s THEN attempts + 1 ELSE attempts END, "
            "sending_started_at = CASE WHEN id = %s THEN %s ELSE sending_started_at END, "
            "sent_at = CASE WHEN id = %s THEN sent_at ELSE %s END, "
            "last_error = CASE WHEN id = %s THEN last_error ELSE '' END "
            f"WHERE (id = %s AND status = %s) OR (id IN ({marks}) AND status = %s) RETURNING id",
            [
                *(nudge_id, NudgeStatus.SENDING, NudgeStatus.SENT),
                nudge_id,
                *(nudge_id, now),
                *(nudge_id, now),
                nudge_id,
                *(nudge_id, NudgeStatus.PENDING),
                *sent,
                NudgeStatus.SENDING,
            ],
        )
        ids = {row[0] for row in cursor.fetchall()}
    return len(ids - {nudge_id}), nudge_id in ids


def _claim(nudge_ids: list[int]) -> set[int]:
    """The conditional UPDATE pending -> sending that makes a send exclusive to one worker;
    returns the ids this worker won. One statement (UPDATE ... RETURNING, PostgreSQL and
    SQLite >= 3.35)."""
    if not nudge_ids:
        return set()
    table = connection.ops.quote_name(Nudge._meta.db_table)
    marks = ", ".join(["%s"] * len(nudge_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, sending_started_at = %s, "  # noqa: S608
            f"attempts = attempts + 1 WHERE status = %s AND id IN ({marks}) RETURNING id",
            [NudgeStatus.SENDING, timezone.now(), NudgeStatus.PENDING, *nudge_ids],
        )
        return {row[0] for row in cursor.fetchall()}


def _mark_sent(nudge_ids: list[int]) -> int:
    if not nudge_ids:
        return 0
    return Nudge.objects.filter(pk__in=nudge_ids, status=NudgeStatus.SENDING).update(
        status=NudgeStatus.SENT, sent_at=timezone.now(), last_error=""
    )


# --- Unsubscribe -------------------------------------------------------------------------


def learner_unsubscribe(*, token: str) -> Learner:
    """Turn nudges off for the learner the token names (idempotent); pending nudges are
    skipped. Raises ``signing.BadSignature`` (tampered) or ``Learner.DoesNotExist``."""
    learner = Learner.objects.select_related("user").get(pk=unsubscribe_learner_id(token))
    with transaction.atomic():
        Learner.objects.filter(pk=learner.pk).update(nudges_enabled=False)
        Nudge.objects.filter(learner=learner, status=NudgeStatus.PENDING).update(
            status=NudgeStatus.SKIPPED, last_error=rules.OPTED_OUT
        )
    learner.nudges_enabled = False
    return learner
