"""Writes to learners: profile, progress, and the level the placement rule gives them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, PositiveSmallIntegerField, Value, When
from django.utils import timezone

from curriculum.models import Key, Module, Track
from curriculum.selectors import curriculum_rules

from . import assessment
from .models import (
    CompletionSource,
    KeyCompletion,
    Learner,
    LevelChange,
    ModuleProgress,
    User,
)
from .nudges.services.ledger import nudge_level_up, nudges_level_up_many
from .nudges.services.preferences import learner_turn_nudges_on_or_off
from .placement import CurriculumRules, Placement, Profile, place
from .selectors import (
    learner_profile,
    learner_progress,
    progress_by_learner,
)


def learners_touch(*, learner_ids: Iterable[int]) -> None:
    """Mark what the learners' pages show as changed (their cached progress page is stale)."""
    Learner.objects.filter(pk__in=list(learner_ids)).update(version=F("version") + 1)


@dataclass(frozen=True)
class Recomputed:
    placement: Placement
    change: LevelChange | None

    @property
    def went_up(self) -> bool:
        return self.change is not None and self.change.went_up


def learner_create(
    *,
    email: str,
    first_name: str = "",
    last_name: str = "",
    password: str | None = None,
    **profile,
) -> Learner:
    """A user and their learner profile (password None = unusable, set by password reset)."""
    user = User(
        email=User.objects.normalize_email(email).lower(),
        first_name=first_name,
        last_name=last_name,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    with transaction.atomic():
        user.save()
        return learner_ensure(user=user, **profile)


def learner_ensure(*, user: User, **fields) -> Learner:
    """The learner profile of ``user``, created if missing (e.g. right after signup)."""
    from .privacy.selectors import suppressed_emails

    if suppressed_emails([user.email]):
        # An erased learner's address coming back: nudges off until they opt in again.
        fields = {**fields, "nudges_enabled": False}
    learner, created = Learner.objects.get_or_create(user=user, defaults=fields)
    if created:
        learner.full_clean()
    return learner


def assessment_check(*, track: Track | None, answers: dict) -> None:
    """Raise ValidationError, by field, unless ``answers`` are a whole self-assessment of
    ``track`` (the rule and its messages: ``learners.assessment.assessment_errors``)."""
    errors = assessment.assessment_errors(
        track.slug if track else None, answers, track_name=track.name if track else ""
    )
    if errors:
        raise ValidationError(errors)


def assessment_apply(
    learner: Learner, *, track: Track | None, answers: dict, submitted: bool, now: datetime
) -> list[str]:
    """Put a self-assessment on ``learner`` in memory (the caller saves, one row or many):
    the track, its answers, the other track's answers cleared, the time it was first
    submitted. ``submitted=False`` clears every answer. Returns the fields that changed."""
    values = (
        assessment.assessment_answers(track.slug if track else None, answers)
        if submitted
        else assessment.cleared_answers()
    )
    values["assessment_submitted_at"] = (
        (learner.assessment_submitted_at or now) if submitted else None
    )
    changed = []
    if learner.track_id != (track.pk if track else None):
        learner.track = track
        changed.append("track")
    for name, value in values.items():
        if getattr(learner, name) != value:
            setattr(learner, name, value)
            changed.append(name)
    return changed


@transaction.atomic
def learner_set_assessment(
    *,
    learner: Learner,
    track: Track | None,
    answers: dict,
    submitted: bool = True,
    timezone_name: str | None = None,
    nudges_enabled: bool | None = None,
    now: datetime | None = None,
) -> Recomputed:
    """Save a self-assessment (or clear it with ``submitted=False``), with the learner's
    time zone and nudge choice when given, and recompute the level.

    Raises ValidationError (nothing saved) when the answers are not a whole self-assessment
    of the track.
    """
    if submitted:
        assessment_check(track=track, answers=answers)
    learner = Learner.objects.select_for_update().get(pk=learner.pk)
    now = now or timezone.now()
    assessment_apply(learner, track=track, answers=answers, submitted=submitted, now=now)
    if timezone_name is not None:
        learner.timezone = timezone_name
    learner.last_activity_at = now
    learner.full_clean(exclude=["user"])
    learner.save()
    if nudges_enabled is not None and nudges_enabled != learner.nudges_enabled:
        # The learner's own choice (only the learner's profile passes it): remembered, so
        # that an import or an instructor cannot turn nudges back on after "off".
        learner_turn_nudges_on_or_off(learner=learner, enabled=nudges_enabled, now=now)
    learners_touch(learner_ids=[learner.pk])
    return _recompute_locked(learner, now=now)


def learner_recompute_level(
    *, learner: Learner, curriculum: CurriculumRules | None = None
) -> Recomputed:
    with transaction.atomic():
        locked = (
            Learner.objects.select_for_update(of=("self",))
            .select_related("track")
            .get(pk=learner.pk)
        )
        result = _recompute_locked(locked, curriculum=curriculum)
    learner.level = locked.level
    learner.level_changed_at = locked.level_changed_at
    return result


def _recompute_locked(
    learner: Learner, *, curriculum: CurriculumRules | None = None, now=None
) -> Recomputed:
    """Recompute a learner whose row the caller holds locked in a transaction."""
    placement = place(
        curriculum or curriculum_rules(), learner_profile(learner), learner_progress(learner)
    )
    change = _apply_placement(learner, placement, now=now)
    if change is not None:
        Learner.objects.filter(pk=learner.pk).update(
            level=learner.level, level_changed_at=learner.level_changed_at, version=F("version") + 1
        )
        change.save()
        if change.went_up:
            nudge_level_up(learner=learner, change=change)
    return Recomputed(placement=placement, change=change)


def _apply_placement(learner: Learner, placement: Placement, *, now=None) -> LevelChange | None:
    """Set the new level on ``learner`` (unsaved) and return the history row, if it changed."""
    if placement.level == learner.level:
        return None
    now = now or timezone.now()
    change = LevelChange(
        learner=learner,
        from_level=learner.level,
        to_level=placement.level,
        changed_at=now,
        reasons=list(placement.reasons),
    )
    learner.level = placement.level
    learner.level_changed_at = now
    return change


def _set_progress(
    *,
    learner: Learner,
    model,
    lookup: dict,
    done: bool,
    source: str,
    recorded_by: User | None,
    via: str = "",
    completed_at: datetime | None = None,
) -> Recomputed:
    with transaction.atomic():
        locked = (
            Learner.objects.select_for_update(of=("self",))
            .select_related("track")
            .get(pk=learner.pk)
        )
        # Read the clock once the row is ours, so one learner's history is in time order.
        now = timezone.now()
        existing = model.objects.filter(learner=locked, **lookup).first()
        if (
            not done
            and existing is not None
            and existing.source == CompletionSource.PLATFORM
            and source == CompletionSource.LEARNER
        ):
            raise ValidationError(
                f"This was completed on {existing.via or 'the course platform'}; "
                "only an instructor can mark it not done."
            )
        if done and existing is None:
            model.objects.create(
                learner=locked,
                **lookup,
                completed_at=completed_at or now,
                source=source,
                recorded_by=recorded_by,
                via=via,
            )
        elif done and completed_at is not None and completed_at < existing.completed_at:
            # A completion is a fact with a time: an earlier report (out of order) wins.
            model.objects.filter(pk=existing.pk).update(completed_at=completed_at)
        elif not done and existing is not None:
            existing.delete()
        locked.last_activity_at = now
        Learner.objects.filter(pk=locked.pk).update(last_activity_at=now, version=F("version") + 1)
        result = _recompute_locked(locked, now=now)
    learner.level, learner.last_activity_at = locked.level, now
    return result


def key_set_done(
    *,
    learner: Learner,
    key: Key,
    done: bool,
    source: str = CompletionSource.LEARNER,
    recorded_by: User | None = None,
    via: str = "",
    completed_at: datetime | None = None,
) -> Recomputed:
    """Tick (or untick) a key of the learner's own track. Module-linked keys follow their
    modules and cannot be ticked by hand. ``via`` names the API key or platform;
    ``completed_at`` is when it happened there (default now)."""
    if learner.track_id != key.track_id:
        raise ValidationError({"key": f"{key.code} is not a key of this learner's track."})
    if key.modules.exists():
        raise ValidationError({"key": f"{key.code} is done by completing its modules."})
    return _set_progress(
        learner=learner,
        model=KeyCompletion,
        lookup={"key": key},
        done=done,
        source=source,
        recorded_by=recorded_by,
        via=via,
        completed_at=completed_at,
    )


def module_set_done(
    *,
    learner: Learner,
    module: Module,
    done: bool,
    source: str = CompletionSource.LEARNER,
    recorded_by: User | None = None,
    via: str = "",
    completed_at: datetime | None = None,
) -> Recomputed:
    """Mark a module done or not. A learner cannot untick what a platform completed (an
    instructor can): ValidationError, nothing changed."""
    return _set_progress(
        learner=learner,
        model=ModuleProgress,
        lookup={"module": module},
        done=done,
        source=source,
        recorded_by=recorded_by,
        via=via,
        completed_at=completed_at,
    )


@dataclass
class RecomputeReport:
    learners: int = 0
    changed: int = 0
    chunks: int = 0


def learners_recompute(
    *, learner_ids: Iterable[int] | None = None, chunk_size: int | None = None
) -> RecomputeReport:
    """Recompute many learners (all when ``learner_ids`` is None), a chunk at a time.

    A chunk costs a fixed number of queries (learners, their modules, their keys, at most
    one UPDATE per level reached and one bulk insert of history), whatever its learners'
    progress. Only learners whose level changed are written.
    """
    chunk_size = chunk_size or settings.LEARNER_CHUNK_SIZE
    curriculum = curriculum_rules(fresh=True)
    report = RecomputeReport()
    columns = ("pk", "level", "level_changed_at", "assessment_submitted_at", "track__slug")
    learners = (
        Learner.objects.order_by("pk")
        .select_for_update(of=("self",))
        .select_related("track")
        .only(*columns, *assessment.FIELDS)
    )
    ids = sorted(set(learner_ids)) if learner_ids is not None else None
    last_pk = 0
    while True:
        with transaction.atomic():
            if ids is None:
                chunk = list(learners.filter(pk__gt=last_pk)[:chunk_size])
            else:
                start = report.chunks * chunk_size
                chunk = list(learners.filter(pk__in=ids[start : start + chunk_size]))
            if not chunk:
                break
            last_pk = chunk[-1].pk
            report.chunks += 1
            report.learners += len(chunk)
            changed, history = _recompute_chunk(chunk, curriculum)
            _write_levels(changed)
            LevelChange.objects.bulk_create(history, batch_size=chunk_size)
            nudges_level_up_many(changes=history)
            report.changed += len(changed)
        if ids is not None and report.chunks * chunk_size >= len(ids):
            break
    return report


def _write_levels(changed: list[Learner]) -> None:
    """One UPDATE for the whole chunk: a CASE over the (at most four) levels reached, cheaper
    than Django's per-row CASE of bulk_update."""
    if not changed:
        return
    by_level: dict[int, list[int]] = defaultdict(list)
    for learner in changed:
        by_level[learner.level].append(learner.pk)
    Learner.objects.filter(pk__in=[learner.pk for learner in changed]).update(
        level=Case(
            *(When(pk__in=pks, then=Value(level)) for level, pks in by_level.items()),
            output_field=PositiveSmallIntegerField(),
        ),
        level_changed_at=changed[0].level_changed_at,
        version=F("version") + 1,
    )


def _recompute_chunk(
    chunk: list[Learner], curriculum: CurriculumRules
) -> tuple[list[Learner], list[LevelChange]]:
    progress = progress_by_learner([learner.pk for learner in chunk])
    now = timezone.now()
    changed, history = [], []
    for learner in chunk:
        profile: Profile = learner_profile(learner, learner.track.slug if learner.track else None)
        change = _apply_placement(
            learner, place(curriculum, profile, progress[learner.pk]), now=now
        )
        if change is not None:
            changed.append(learner)
            history.append(change)
    return changed, history


@transaction.atomic
def user_change_email(*, user: User, email: str) -> User:
    """Give ``user`` the login address ``email`` (lower-cased) and make allauth's records of
    addresses agree: the old ones are removed (a verified old address would still receive
    password resets and take the account over), the new one is primary and unverified
    until its owner confirms it (allauth asks at the next sign-in). Every place an address
    changes (the admin, an import, the API) goes through here.

    Raises ValidationError when the address is invalid or another account has it, in any
    case."""
    from allauth.account.models import EmailAddress

    email = User.objects.normalize_email(email).strip().lower()
    user.email = email
    user.full_clean(exclude=["password"])
    user.save(update_fields=["email"])
    EmailAddress.objects.filter(user=user).exclude(email__iexact=email).delete()
    address = EmailAddress.objects.filter(user=user, email__iexact=email).first()
    if address is None:
        EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
    elif not address.primary or address.email != email:
        address.email = email
        address.primary = True
        address.save(update_fields=["email", "primary"])
    return user
