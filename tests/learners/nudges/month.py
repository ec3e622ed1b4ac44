"""A month of nudges simulated hour by hour: synthetic learners across time zones, the real
sweep, hand-off and send path under a controlled clock, and an oracle that checks what
went out against the budget, the hold-out groups and the ledger.

Used by ``test_month.py`` (a small roster, SQLite or PostgreSQL) and by
``bench/nudge_month.py`` (10,000 learners on PostgreSQL). Every planted event goes through
the services a real flow uses (a level change calls ``nudge_level_up``, an opt-out
``learner_set_nudge_preferences``); the hourly tick runs ``nudges_sweep`` as beat does and
then the frequent pass ``nudges_hand_pending``, whose chunks run in-process (eager Celery),
so deferred rows really go through the hand-off. Emails are rendered and handed to a
recording email backend (the SMTP side is covered by the aiosmtpd and worker tests).

The clock is ``django.utils.timezone.now`` replaced for the duration (``controlled_clock``):
the send path reads it when it claims a row and when the backend records the email.
"""

from __future__ import annotations

import random
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from allauth.account.models import EmailAddress
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from curriculum.models import Track
from learners.models import Learner, LevelChange, User
from learners.nudges import rules
from learners.nudges.models import Experiment, Nudge, NudgeBudget, NudgeStatus
from learners.nudges.services.experiments import experiment_set_share, holdout_key
from learners.nudges.services.handoff import nudges_hand_pending
from learners.nudges.services.ledger import nudge_level_up, nudge_send_now
from learners.nudges.services.preferences import learner_set_nudge_preferences
from learners.nudges.services.sweep import nudges_sweep

# 1 March 2026, a Sunday: the month crosses the US (8 March) and EU (29 March) DST changes.
START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 30
# After the month, the frequent pass alone runs this long: every deferred row must go out
# or be skipped with a reason (the cap defers by at most 7 days).
DRAIN = timedelta(days=8)
WEEKLY_CAP = 2
SEND_NOW_AFTER = timedelta(hours=2)
QUIET_START, QUIET_END = time(21), time(8)
HOLDOUT_PERCENT = 20
ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "America/St_Johns",  # -03:30
    "Pacific/Honolulu",
    "Pacific/Pago_Pago",  # -11
    "Asia/Kolkata",  # +05:30
    "Asia/Kathmandu",  # +05:45
    "Asia/Tokyo",
    "Australia/Adelaide",  # +10:30
    "Pacific/Auckland",
    "Pacific/Chatham",  # +13:45
    "Pacific/Kiritimati",  # +14
)
PREFIX = "month"


# The clock and the email side ----------------------------------------------------------------


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def controlled_clock(clock: Clock) -> Iterator[Clock]:
    real = timezone.now
    timezone.now = clock
    try:
        yield clock
    finally:
        timezone.now = real


@dataclass(frozen=True)
class SentEmail:
    to: str
    lead_nudge_id: int
    at: datetime


class RecordingBackend(BaseEmailBackend):
    """An email backend that keeps only who, which nudge led the email, and when (by the
    controlled clock); the messages are rendered in full before they get here."""

    sent: list[SentEmail] = []

    def send_messages(self, email_messages):
        for message in email_messages:
            _kind, nudge_id = message.extra_headers["X-Nudge"].split()
            RecordingBackend.sent.append(SentEmail(message.to[0], int(nudge_id), timezone.now()))
        return len(email_messages)


BACKEND = f"{__name__}.RecordingBackend"


# The plan ---------------------------------------------------------------------------------------


@dataclass
class Planted:
    """One synthetic learner and what they will do during the month."""

    index: int
    zone: str
    kind: str  # "quiet", "newcomer", "climber"
    signup_at: datetime
    progress_at: list[datetime] = field(default_factory=list)
    assessed_at: datetime | None = None  # newcomers who fill it in during the month
    level_ups_at: list[datetime] = field(default_factory=list)
    opt_out_at: datetime | None = None

    @property
    def email(self) -> str:
        return f"{PREFIX}{self.index}@example.com"

    def events_after(self, moment: datetime) -> bool:
        """Whether the learner did anything (progress, assessment, level) after ``moment``."""
        return any(
            t > moment for t in [*self.progress_at, *self.level_ups_at, self.assessed_at] if t
        )


def hour(rng: random.Random, start: datetime, days: int) -> datetime:
    return start + timedelta(hours=rng.randrange(days * 24))


def plan(learners: int, seed: int) -> list[Planted]:
    rng = random.Random(seed)
    planted = []
    for index in range(learners):
        draw = rng.random()
        zone = ZONES[index % len(ZONES)]
        if draw < 0.55:
            learner = Planted(index, zone, "quiet", START - timedelta(days=rng.randrange(10, 90)))
            if rng.random() < 0.4:
                learner.progress_at = sorted(
                    hour(rng, START, DAYS) for _ in range(rng.randint(1, 3))
                )
        elif draw < 0.8:
            learner = Planted(index, zone, "newcomer", hour(rng, START, DAYS - 3))
            if rng.random() < 0.5:
                learner.assessed_at = learner.signup_at + timedelta(hours=rng.randrange(1, 120))
        else:
            learner = Planted(index, zone, "climber", START - timedelta(days=rng.randrange(10, 90)))
            # Two or three level-ups, some a few hours apart, at any hour of their day.
            first = hour(rng, START, DAYS - 2)
            ups = [first]
            for _ in range(rng.randint(1, 2)):
                ups.append(ups[-1] + timedelta(hours=rng.choice((1, 3, 9, 30, 70))))
            learner.level_ups_at = [t for t in ups if t < START + timedelta(days=DAYS)]
        if rng.random() < 0.05:
            after = max(learner.signup_at + timedelta(hours=1), START)
            learner.opt_out_at = after + timedelta(hours=rng.randrange(24 * 20))
        planted.append(learner)
    return planted


# The run -------------------------------------------------------------------------------------


@dataclass
class Run:
    planted: list[Planted]
    learner_of: dict[int, Planted]  # learner id -> plan
    id_of: dict[int, int] = field(default_factory=dict)  # plan index -> learner id
    hours: int = 0
    sweeps: int = 0


def setup(planted: list[Planted]) -> Run:
    """The budget, fresh experiments at START, and the learners who exist before START."""
    NudgeBudget.objects.update_or_create(
        pk=1,
        defaults={"weekly_cap": WEEKLY_CAP, "quiet_start": QUIET_START, "quiet_end": QUIET_END},
    )
    for kind in rules.EXPERIMENT_KINDS:
        Experiment.objects.filter(kind=kind, ended_at__isnull=True).update(ended_at=START)
        experiment_set_share(kind=kind, percent=HOLDOUT_PERCENT, now=START)
    run = Run(planted, {})
    _create(run, [p for p in planted if p.signup_at < START])
    return run


def _create(run: Run, planted: list[Planted]) -> None:
    if not planted:
        return
    engineer = Track.objects.get(slug="engineer")
    users = User.objects.bulk_create(
        [User(email=p.email, password="!") for p in planted]  # noqa: S106
    )
    learners = Learner.objects.bulk_create(
        [
            Learner(
                user=user,
                created_at=p.signup_at,
                timezone=p.zone,
                track=None if p.kind == "newcomer" else engineer,
                assessment_submitted_at=None if p.kind == "newcomer" else p.signup_at,
                last_activity_at=None if p.kind == "newcomer" else p.signup_at,
                level=1,
            )
            for user, p in zip(users, planted, strict=True)
        ]
    )
    EmailAddress.objects.bulk_create(
        [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users]
    )
    for learner, p in zip(learners, planted, strict=True):
        run.learner_of[learner.pk] = p
        run.id_of[p.index] = learner.pk


def simulate(planted: list[Planted]) -> Run:
    """The month hour by hour, then the drain. Call with ``RecordingBackend`` as the email
    backend, tasks eager, outside a test transaction (on-commit hand-offs must run)."""
    RecordingBackend.sent = []
    clock = Clock(START)
    with controlled_clock(clock):
        run = setup(planted)
        by_hour: dict[datetime, list[tuple[str, Planted]]] = defaultdict(list)
        for p in planted:
            if p.signup_at >= START:
                by_hour[p.signup_at].append(("signup", p))
            for t in p.progress_at:
                by_hour[t].append(("progress", p))
            for t in p.level_ups_at:
                by_hour[t].append(("level_up", p))
                # Their instructor follows each move up with a "send a next step now": the
                # kind the weekly cap holds (a level-up is outside it).
                by_hour[t + SEND_NOW_AFTER].append(("send_now", p))
            if p.assessed_at:
                by_hour[p.assessed_at].append(("assessed", p))
            if p.opt_out_at:
                by_hour[p.opt_out_at].append(("opt_out", p))
        end = START + timedelta(days=DAYS)
        while clock.now < end + DRAIN:
            now = clock.now
            if now < end:
                _events(run, by_hour.get(now, []), now)
                nudges_sweep(now=now)
                run.sweeps += 1
            nudges_hand_pending(now=now)
            run.hours += 1
            clock.now = now + timedelta(hours=1)
    return run


def _events(run: Run, events: list[tuple[str, Planted]], now: datetime) -> None:
    _create(run, [p for what, p in events if what == "signup"])
    engineer = None
    for what, p in events:
        pk = run.id_of.get(p.index)
        if pk is None:
            continue
        if what == "progress":
            Learner.objects.filter(pk=pk).touch(last_activity_at=now)
        elif what == "assessed":
            engineer = engineer or Track.objects.get(slug="engineer")
            Learner.objects.filter(pk=pk).update(
                track=engineer, assessment_submitted_at=now, last_activity_at=now
            )
        elif what == "level_up":
            with transaction.atomic():
                learner = Learner.objects.select_for_update().select_related("user").get(pk=pk)
                change = LevelChange.objects.create(
                    learner=learner,
                    from_level=learner.level,
                    to_level=learner.level + 1,
                    changed_at=now,
                )
                learner.level, learner.level_changed_at = change.to_level, now
                learner.last_activity_at = now
                learner.save(update_fields=["level", "level_changed_at", "last_activity_at"])
                nudge_level_up(learner=learner, change=change, now=now)
        elif what == "send_now":
            nudge_send_now(learner_ids=[pk], now=now)
        elif what == "opt_out":
            learner = Learner.objects.select_related("user").get(pk=pk)
            learner_set_nudge_preferences(learner=learner, enabled=False, now=now)


# The oracle -----------------------------------------------------------------------------------


@dataclass
class Figures:
    learners: int
    hours: int
    sweeps: int
    emails: int
    rows: Counter  # status -> rows
    skipped: Counter  # reason -> rows
    sent_by_kind: Counter
    held_out_by_kind: Counter
    deferred_then_sent: int
    deferred_quiet: int  # went out at the end of the learner's quiet hours
    max_emails_in_7_days: int
    learners_at_the_cap: int


def assert_outside_quiet_hours(at: datetime, zone: str) -> None:
    local = at.astimezone(zoneinfo.ZoneInfo(zone)).time()
    assert QUIET_END <= local < QUIET_START, f"sent at {local} local time in {zone} ({at})"


def most_in_a_window(sent: list[datetime]) -> int:
    """The most emails in any rolling window (t - 7 days, t]."""
    sent = sorted(sent)
    return max(
        (sum(1 for t in sent[: i + 1] if end - t < rules.CAP_WINDOW) for i, end in enumerate(sent)),
        default=0,
    )


def check(run: Run) -> Figures:
    """Every guarantee, checked against what the backend received; raises AssertionError
    naming the first learner and email that break one. Returns the figures."""
    rows = {n.pk: n for n in Nudge.objects.filter(learner_id__in=list(run.learner_of))}
    emails = RecordingBackend.sent
    email_of = {p.email: pk for pk, p in run.learner_of.items()}
    carried: dict[int, list[Nudge]] = defaultdict(list)  # lead row -> rows in its email
    for row in rows.values():
        if row.status == NudgeStatus.SENT:
            carried[row.combined_into_id or row.pk].append(row)

    # Nothing sent twice: each email led by a distinct row, to that row's learner, and each
    # sent row in exactly one email.
    leads = Counter(e.lead_nudge_id for e in emails)
    twice = [pk for pk, n in leads.items() if n > 1]
    assert not twice, f"rows leading more than one email: {twice[:5]}"
    assert set(leads) == set(carried), "sent rows and emails differ"
    for e in emails:
        assert rows[e.lead_nudge_id].learner_id == email_of[e.to], f"email to the wrong learner {e}"
        assert rows[e.lead_nudge_id].sent_at == e.at, f"ledger and email disagree on {e}"

    # Nothing in quiet hours; never more than the cap in any rolling 7 days (counting the
    # emails the cap holds: one carrying only a placement or a level-up is outside it).
    times: dict[int, list[datetime]] = defaultdict(list)
    for e in emails:
        planted = run.learner_of[email_of[e.to]]
        assert_outside_quiet_hours(e.at, planted.zone)
        assert planted.opt_out_at is None or e.at < planted.opt_out_at, f"after opting out: {e}"
        if any(row.kind not in rules.CAP_EXEMPT_KINDS for row in carried[e.lead_nudge_id]):
            times[email_of[e.to]].append(e.at)
    most = 0
    at_cap = 0
    for sent in times.values():
        in_window = most_in_a_window(sent)
        assert in_window <= WEEKLY_CAP, f"{in_window} emails within 7 days: {sorted(sent)}"
        most = max(most, in_window)
        at_cap += in_window == WEEKLY_CAP

    # Nothing lost: after the drain every row is sent, held out, or skipped with a reason the
    # plan explains.
    status = Counter(row.status for row in rows.values())
    open_rows = [r for r in rows.values() if r.status not in ("sent", "skipped", "held_out")]
    assert not open_rows, f"rows never settled: {[(r.pk, r.kind, r.status) for r in open_rows[:5]]}"
    newer = defaultdict(list)
    for row in rows.values():
        newer[(row.learner_id, row.kind)].append(row.created_at)
    skipped = Counter()
    for row in rows.values():
        if row.status != NudgeStatus.SKIPPED:
            continue
        p = run.learner_of[row.learner_id]
        reason = row.last_error
        skipped[reason] += 1
        explained = {
            rules.SUPERSEDED: any(t > row.created_at for t in newer[(row.learner_id, row.kind)]),
            rules.PROGRESSED: p.events_after(row.created_at),
            rules.LEVELLED_UP: any(t > row.created_at for t in p.level_ups_at),
            rules.OPTED_OUT: p.opt_out_at is not None and p.opt_out_at >= row.created_at,
        }.get(reason, False)
        assert explained, f"row {row.pk} ({row.kind}) of learner {p} skipped: {reason!r}"

    # Held out: no email carries a kind to a learner held out of that kind's experiment.
    held: dict[str, set[int]] = {}
    for experiment in Experiment.objects.filter(
        kind__in=rules.EXPERIMENT_KINDS, started_at=START, ended_at__isnull=True
    ):
        held[experiment.kind] = {
            pk
            for pk in run.learner_of
            if rules.held_out(
                key=holdout_key(experiment.kind), learner_id=pk, percent=HOLDOUT_PERCENT
            )
        }
    assert set(held) == set(rules.EXPERIMENT_KINDS)
    # (An instructor's "send now" is in no experiment: it reaches a held-out learner too.)
    for carried_rows in carried.values():
        for row in carried_rows:
            if rules.in_experiment(row.kind, row.dedup_key):
                assert row.learner_id not in held.get(row.kind, ()), f"held-out learner got {row}"
    for row in rows.values():
        if row.status == NudgeStatus.HELD_OUT:
            assert row.learner_id in held[row.kind], f"held out without the hash: {row}"

    deferred = [r for r in rows.values() if r.status == "sent" and r.not_before is not None]
    quiet_end = 0
    for r in deferred:
        local = r.not_before.astimezone(zoneinfo.ZoneInfo(run.learner_of[r.learner_id].zone))
        quiet_end += local.time() == QUIET_END
    return Figures(
        learners=len(run.learner_of),
        hours=run.hours,
        sweeps=run.sweeps,
        emails=len(emails),
        rows=status,
        skipped=skipped,
        sent_by_kind=Counter(r.kind for r in rows.values() if r.status == "sent"),
        held_out_by_kind=Counter(r.kind for r in rows.values() if r.status == "held_out"),
        deferred_then_sent=len(deferred),
        deferred_quiet=quiet_end,
        max_emails_in_7_days=most,
        learners_at_the_cap=at_cap,
    )
