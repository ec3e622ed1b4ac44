"""Writing a planned import with bulk queries: a fixed number of queries per batch."""

from __future__ import annotations

from collections import defaultdict

from django.contrib.auth.hashers import make_password
from django.utils import timezone

from ..models import Cohort, CompletionSource, KeyCompletion, Learner, ModuleProgress, User
from ..privacy.selectors import suppressed_emails
from ..services import assessment_apply
from .columns import BATCH_SIZE, UPDATE_BATCH_SIZE, batched
from .parse import CurriculumIndex
from .plan import Plan


def write_plans(
    plans: list[Plan], new_cohorts: set[str], curriculum: CurriculumIndex, recorded_by
) -> list[int]:
    """Write the plans with bulk queries; returns the ids of the learners to recompute."""
    now = timezone.now()
    Cohort.objects.bulk_create(
        [Cohort(name=name) for name in sorted(new_cohorts)],
        batch_size=BATCH_SIZE,
        ignore_conflicts=True,
    )
    cohort_names = {
        value for plan in plans if isinstance(value := plan.learner_fields.get("cohort"), str)
    }
    cohorts = dict(Cohort.objects.filter(name__in=cohort_names).values_list("name", "pk"))

    new_users = [
        User(
            email=plan.row.email,
            first_name=plan.row.first_name,
            last_name=plan.row.last_name,
            password=make_password(None),
            date_joined=now,
        )
        for plan in plans
        if plan.user is None
    ]
    User.objects.bulk_create(new_users, batch_size=BATCH_SIZE)
    fill_pks(new_users, User, "email")
    users_by_email = {user.email: user for user in new_users}
    changed_users: dict[tuple[str, ...], list[User]] = defaultdict(list)
    for plan in plans:
        if plan.user is None:
            plan.user = users_by_email[plan.row.email]
        elif plan.user_fields:
            for name, value in plan.user_fields.items():
                setattr(plan.user, name, value)
            changed_users[tuple(sorted(plan.user_fields))].append(plan.user)
    bulk_update_fields(User, changed_users)

    new_learners = []
    changed_learners: dict[tuple[str, ...], list[Learner]] = defaultdict(list)
    # An erased learner's address coming back: nudges stay off until they opt in again.
    suppressed = suppressed_emails([plan.row.email for plan in plans if plan.learner is None])
    for plan in plans:
        if plan.learner is None:
            plan.learner = Learner(user=plan.user, created_at=now)
            new_learners.append(plan.learner)
            if plan.row.email in suppressed:
                plan.learner_fields["nudges_enabled"] = False
        fields = _apply_plan(plan, cohorts, now)
        if plan.learner.pk is not None and fields:
            changed_learners[tuple(sorted(fields))].append(plan.learner)
    Learner.objects.bulk_create(new_learners, batch_size=BATCH_SIZE)
    fill_pks(new_learners, Learner, "user_id")
    bulk_update_fields(Learner, changed_learners)

    common = {
        "completed_at": now,
        "source": CompletionSource.IMPORT,
        "recorded_by_id": recorded_by.pk if recorded_by else None,
    }
    # Completions are written a slice at a time from generators: a roster of 10,000 learners
    # holds ~170,000 of them, too many ORM objects to build at once.
    modules = (
        ModuleProgress(learner_id=plan.learner.pk, module_id=curriculum.modules[number], **common)
        for plan in plans
        for number in sorted(plan.new_modules)
    )
    keys = (
        KeyCompletion(learner_id=plan.learner.pk, key_id=curriculum.keys[code][1], **common)
        for plan in plans
        for code in sorted(plan.new_keys)
    )
    for model, rows in ((ModuleProgress, modules), (KeyCompletion, keys)):
        for batch in batched(rows, BATCH_SIZE):
            model.objects.bulk_create(batch, ignore_conflicts=True)
    return [plan.learner.pk for plan in plans if plan.action != "unchanged"]


def bulk_update_fields(model, groups: dict[tuple[str, ...], list]) -> None:
    """Update each group of rows on exactly the fields that changed for them.

    Django's bulk update is one ``CASE`` per field over the whole batch, which costs
    batch x rows on the database: small batches and only the changed fields keep it fast.
    """
    for fields, objects in groups.items():
        model.objects.bulk_update(objects, list(fields), batch_size=UPDATE_BATCH_SIZE)


def _apply_plan(plan: Plan, cohorts: dict[str, int], now) -> list[str]:
    """Set the plan's fields on its (unsaved) learner; returns the model fields it changed."""
    learner = plan.learner
    touched = []
    if plan.assessment is not None:
        touched += assessment_apply(
            learner,
            track=plan.assessment.track,
            answers=plan.assessment.answers,
            submitted=plan.assessment.submitted,
            now=now,
        )
    for name, value in plan.learner_fields.items():
        if name == "cohort":
            learner.cohort_id = cohorts[value] if value else None
        else:
            setattr(learner, name, value)
        touched.append(name)
    return touched


def fill_pks(objects: list, model, unique_field: str) -> None:
    """Primary keys after a bulk insert, for databases that do not return them."""
    missing = [obj for obj in objects if obj.pk is None]
    for start in range(0, len(missing), BATCH_SIZE):
        batch = missing[start : start + BATCH_SIZE]
        pks = dict(
            model.objects.filter(
                **{f"{unique_field}__in": [getattr(obj, unique_field) for obj in batch]}
            ).values_list(unique_field, "pk")
        )
        for obj in batch:
            obj.pk = pks[getattr(obj, unique_field)]
