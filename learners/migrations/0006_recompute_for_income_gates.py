"""Recompute every learner's level under the income gates (curriculum 0003).

The gates only hold learners back, so this moves some learners down (never up); each change
is a level history row with the rule's reasons at that time. It runs the placement services
of today on purpose: the rule lives in one place. A database without learners skips it.
"""

from django.db import migrations


def recompute_everyone(apps, schema_editor):
    """Moved to learners 0009, which recomputes everyone once the learner has every column
    the services of today read (``placed_at``): run here, they would read a column not yet
    added. Between the two migrations nothing reads the levels."""


class Migration(migrations.Migration):
    dependencies = [
        ("learners", "0005_nudge_to_nudges_app"),
        ("curriculum", "0003_successmetric_gate_amount"),
        ("nudges", "0002_nudge_content_type"),
    ]

    operations = [migrations.RunPython(recompute_everyone, migrations.RunPython.noop)]
