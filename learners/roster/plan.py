"""Planning an import: what each valid row does to its learner, for the preview and the
write. Nothing is written here."""

from __future__ import annotations

from dataclasses import dataclass, field

from curriculum.models import Track

from .. import assessment
from ..models import Cohort, Learner, User, account_change_allowed
from ..nudges.api import learners_opted_out_themselves
from ..selectors import progress_by_learner
from .columns import BATCH_SIZE, RowError
from .parse import ParsedRow, existing_learner


@dataclass(frozen=True)
class AssessmentChange:
    """The self-assessment a row sets, as ``learners.services.assessment_apply`` takes it."""

    track: Track | None
    answers: dict
    submitted: bool


@dataclass
class Plan:
    """What writing one row does."""

    row: ParsedRow
    user: User | None  # the existing user, if any
    learner: Learner | None  # the existing learner, if any
    action: str  # "create", "update" or "unchanged"
    changes: list[str]
    user_fields: dict = field(default_factory=dict)
    learner_fields: dict = field(default_factory=dict)  # cohort (a name), timezone, nudges
    assessment: AssessmentChange | None = None
    new_modules: set[int] = field(default_factory=set)
    new_keys: set[str] = field(default_factory=set)


def staff_row_errors(rows: list[ParsedRow], users: dict[str, User], actor: User | None):
    """Rows naming a staff or superuser account, as errors, unless a superuser imports: an
    instructor's import must not rename an admin or give them a learner profile (the admin
    refuses instructors the same change)."""
    return [
        RowError(
            row.line,
            "email",
            "this address belongs to a staff account: only a superuser's import may change it",
        )
        for row in rows
        if not account_change_allowed(account=users.get(row.email), actor=actor)
    ]


def plan_rows(rows: list[ParsedRow], users: dict[str, User]) -> tuple[list[Plan], set[str]]:
    """What each row changes, against the current data; and the cohorts to create."""
    named = {row.cohort for row in rows if row.cohort}
    existing_cohorts = set(Cohort.objects.filter(name__in=named).values_list("name", flat=True))
    new_cohorts = named - existing_cohorts
    learners = [learner for row in rows if (learner := existing_learner(users.get(row.email)))]
    done_modules, done_keys = _completions([learner.pk for learner in learners])
    opted_out = learners_opted_out_themselves(learner.pk for learner in learners)
    plans = []
    for row in rows:
        user = users.get(row.email)
        learner = existing_learner(user)
        if learner is None:
            plans.append(_plan_new(row, user, new_cohorts))
        else:
            plans.append(
                _plan_update(
                    row,
                    user,
                    learner,
                    done_modules[learner.pk],
                    done_keys[learner.pk],
                    opted_out,
                )
            )
    return plans, new_cohorts


def _completions(learner_ids: list[int]) -> tuple[dict[int, set[int]], dict[int, set[str]]]:
    modules: dict[int, set[int]] = {}
    keys: dict[int, set[str]] = {}
    for start in range(0, len(learner_ids), BATCH_SIZE):
        batch = learner_ids[start : start + BATCH_SIZE]
        for learner_id, done in progress_by_learner(batch).items():
            modules[learner_id] = set(done.completed_modules)
            keys[learner_id] = set(done.completed_keys)
    return modules, keys


def _name_changes(row: ParsedRow, user: User | None) -> dict:
    """A blank cell never erases: only names written and different."""
    if user is None:
        return {}
    return {
        name: getattr(row, name)
        for name in ("first_name", "last_name")
        if getattr(row, name) and getattr(row, name) != getattr(user, name)
    }


def _plan_new(row: ParsedRow, user: User | None, new_cohorts: set[str]) -> Plan:
    changes = [
        ("new learner" if user is None else "learner profile for an existing user")
        + (f" on the {row.track.slug} track" if row.track else " without a track"),
        "with a self-assessment" if row.has_answers else "no self-assessment yet",
    ]
    if row.cohort:
        changes.append(
            f"cohort {row.cohort}" + (" (new cohort)" if row.cohort in new_cohorts else "")
        )
    changes.extend(_progress_changes(row.modules, row.keys))
    return Plan(
        row=row,
        user=user,
        learner=None,
        action="create",
        changes=changes,
        user_fields=_name_changes(row, user),
        learner_fields={
            "cohort": row.cohort or None,
            "timezone": row.timezone or "UTC",
            "nudges_enabled": True if row.nudges_enabled is None else row.nudges_enabled,
        },
        assessment=AssessmentChange(row.track, row.answers, row.has_answers),
        new_modules=set(row.modules),
        new_keys=set(row.keys),
    )


def _plan_assessment(row: ParsedRow, learner: Learner) -> tuple[AssessmentChange | None, str]:
    """The self-assessment change of a row for an existing learner, and how to say it."""
    submitted = learner.assessment_submitted_at is not None
    track_changes = row.track is not None and row.track.pk != learner.track_id
    if row.has_answers:
        track = row.track or learner.track
        stored = assessment.assessment_answers(track.slug, row.answers)
        changed = [name for name, value in stored.items() if getattr(learner, name) != value]
        change = AssessmentChange(track, row.answers, True)
        if not submitted:
            return change, "self-assessment submitted"
        if changed:
            return change, f"self-assessment changed ({', '.join(changed)})"
        return (change, "") if track_changes else (None, "")
    if track_changes:
        # The old answers belong to the old track.
        said = "self-assessment cleared (it was for another track)" if submitted else ""
        return AssessmentChange(row.track, {}, False), said
    return None, ""


def _plan_update(
    row: ParsedRow,
    user: User,
    learner: Learner,
    done_modules: set[int],
    done_keys: set[str],
    opted_out: set[int],
) -> Plan:
    user_fields = _name_changes(row, user)
    changes = [f"{name} changed" for name in user_fields]
    if row.track is not None and row.track.pk != learner.track_id:
        changes.append(f"track changed to {row.track.slug}")
    change, said = _plan_assessment(row, learner)
    if said:
        changes.append(said)
    learner_fields: dict = {}
    if row.cohort and (learner.cohort is None or learner.cohort.name != row.cohort):
        learner_fields["cohort"] = row.cohort
        changes.append(f"cohort changed to {row.cohort}")
    if row.timezone and row.timezone != learner.timezone:
        learner_fields["timezone"] = row.timezone
        changes.append(f"time zone changed to {row.timezone}")
    if row.nudges_enabled is not None and row.nudges_enabled != learner.nudges_enabled:
        if row.nudges_enabled and learner.pk in opted_out:
            changes.append("nudges stay off: the learner turned them off, only they turn them on")
        else:
            learner_fields["nudges_enabled"] = row.nudges_enabled
            changes.append("nudges turned " + ("on" if row.nudges_enabled else "off"))
    new_modules = row.modules - done_modules
    new_keys = row.keys - done_keys
    changes.extend(_progress_changes(new_modules, new_keys, adds=True))
    return Plan(
        row=row,
        user=user,
        learner=learner,
        action="update" if changes else "unchanged",
        changes=changes or ["no changes"],
        user_fields=user_fields,
        learner_fields=learner_fields,
        assessment=change,
        new_modules=new_modules,
        new_keys=new_keys,
    )


def _progress_changes(modules: set[int], keys: set[str], *, adds: bool = False) -> list[str]:
    changes = []
    verb = "adds " if adds else ""
    if modules:
        changes.append(
            f"{verb}module{'s' if len(modules) > 1 else ''} "
            + ", ".join(str(number) for number in sorted(modules))
        )
    if keys:
        changes.append(f"{verb}{len(keys)} key{'s' if len(keys) > 1 else ''}")
    return changes
