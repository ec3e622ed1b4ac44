"""A "Started at" row for learners placed before placements were kept as history rows.

Learners placed at level 1 before then (the default level: no change was written) have
``placed_at`` (migration 0009) but no placement row, so their history has no "Started at"
(the progress page, the download of their data). Each gets one at ``placed_at``, at the level
they started at: the level their first change moved them from, or, with no change, their
level now. Without the reasons of that moment (never recorded), the row has none.
"""

from django.db import migrations
from django.db.models import Exists, F, OuterRef, Subquery

BATCH = 1000


def add_placement_rows(apps, schema_editor):
    Learner = apps.get_model("learners", "Learner")
    LevelChange = apps.get_model("learners", "LevelChange")
    first_from = LevelChange.objects.filter(learner=OuterRef("pk")).order_by("changed_at", "pk")
    missing = (
        Learner.objects.filter(placed_at__isnull=False)
        .exclude(Exists(LevelChange.objects.filter(learner=OuterRef("pk"), from_level=None)))
        .annotate(started=Subquery(first_from.values("from_level")[:1]))
        .order_by("pk")
        .values_list("pk", "placed_at", "started", "level")
    )
    rows = list(missing)
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        LevelChange.objects.bulk_create(
            LevelChange(
                learner_id=pk,
                from_level=None,
                to_level=started or level,
                changed_at=placed_at,
                reasons=[],
            )
            for pk, placed_at, started, level in batch
        )
        # Their cached progress page shows the history: drawn again.
        Learner.objects.filter(pk__in=[row[0] for row in batch]).update(version=F("version") + 1)


class Migration(migrations.Migration):
    dependencies = [
        ("learners", "0009_learner_placed_at_levelchange_undo"),
    ]

    operations = [
        migrations.RunPython(add_placement_rows, migrations.RunPython.noop),
    ]
