"""The Nudge model moved to the ``nudges`` app (``learners.nudges``).

State only: the table ``learners_nudge`` and every ledger row stay where they are; the
``nudges`` app's ``0001_initial`` takes the model over with ``db_table = "learners_nudge"``.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("learners", "0004_learner_version"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Nudge")],
            database_operations=[],
        ),
    ]
