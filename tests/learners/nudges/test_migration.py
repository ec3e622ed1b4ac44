"""The Nudge model moved from the learners app to the nudges app with its table kept
(``learners/0005`` and ``nudges/0001``, state only): a database migrated before the move keeps
every ledger row, its constraint and the Instructors' permission to see the ledger."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from learners.nudges.models import Nudge, NudgeStatus

BEFORE_THE_MOVE = ("learners", "0004_learner_version")
AT = datetime(2026, 3, 9, 9, 30, tzinfo=UTC)


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _nudge_permissions(group_name: str) -> set[tuple[str, str]]:
    return set(
        Group.objects.get(name=group_name)
        .permissions.filter(content_type__model="nudge")
        .values_list("content_type__app_label", "codename")
    )


def _write_ledger(apps) -> list[tuple]:
    """Ledger rows of every status written through the model as it was before the move."""
    User = apps.get_model("learners", "User")
    Learner = apps.get_model("learners", "Learner")
    OldNudge = apps.get_model("learners", "Nudge")
    rows = []
    for i, status in enumerate(NudgeStatus.values):
        user = User.objects.create(email=f"before-the-move-{i}@example.com", password="!")
        learner = Learner.objects.create(user=user)
        nudge = OldNudge.objects.create(
            learner=learner,
            kind="next_step",
            dedup_key=f"2026-W{10 + i}",
            status=status,
            attempts=i,
            last_error="SMTPDataError: 451" if status == NudgeStatus.FAILED else "",
            created_at=AT,
            sent_at=AT if status == NudgeStatus.SENT else None,
        )
        rows.append(
            (nudge.pk, learner.pk, "next_step", f"2026-W{10 + i}", status, i, nudge.last_error)
        )
    return rows


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_database_migrated_before_the_move_keeps_every_ledger_row():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        old_apps = _migrate([BEFORE_THE_MOVE])
        # Before the move, the ledger and the Instructors' permission belong to ``learners``.
        assert ("learners", "Nudge") in {
            (m._meta.app_label, m.__name__) for m in old_apps.get_models()
        }
        assert _nudge_permissions("Instructors") == {("learners", "view_nudge")}
        written = _write_ledger(old_apps)
    finally:
        _migrate(latest)
        ContentType.objects.clear_cache()

    read = list(
        Nudge.objects.order_by("pk").values_list(
            "pk", "learner_id", "kind", "dedup_key", "status", "attempts", "last_error"
        )
    )
    assert read == written
    assert Nudge.objects.filter(sent_at=AT).count() == 1
    assert _nudge_permissions("Instructors") == {("nudges", "view_nudge")}
    assert not ContentType.objects.filter(app_label="learners", model="nudge").exists()
    # The table kept its constraint and its id sequence.
    first = Nudge.objects.get(pk=written[0][0])
    with pytest.raises(IntegrityError), transaction.atomic():
        Nudge.objects.create(
            learner_id=first.learner_id, kind=first.kind, dedup_key=first.dedup_key
        )
    added = Nudge.objects.create(learner_id=first.learner_id, kind="welcome", dedup_key="once")
    assert added.pk > max(row[0] for row in written)
