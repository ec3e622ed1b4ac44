"""Recompute every learner's level under the income gates (curriculum 0003).

The gates only hold learners back, so this moves some learners down (never up); each change
is a level history row with the rule's reasons at that time. It runs the placement services
of today on purpose: the rule lives in one place. A database without learners skips it.
"""

from django.db import migrations


def recompute_everyone(apps, schema_editor):
    if not apps.get_model("learners", "Learner").objects.exists():
        return
    from curriculum.selectors import curriculum_rules_forget
    from learners.services import learners_recompute

    curriculum_rules_forget()
    learners_recompute()


class Migration(migrations.Migration):
    dependencies = [
        ("learners", "0005_nudge_to_nudges_app"),
        ("curriculum", "0003_successmetric_gate_amount"),
        ("nudges", "0002_nudge_content_type"),
    ]

    operations = [migrations.RunPython(recompute_everyone, migrations.RunPython.noop)]
