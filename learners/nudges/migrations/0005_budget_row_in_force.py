"""The nudge budget becomes a django-solo singleton: its one row (pk 1) exists from now on,
with the rules' defaults where nobody had set a budget, so the admin shows the budget in
force. An existing row is kept as it is."""

from django.db import migrations


def budget_row(apps, schema_editor):
    from learners.nudges import rules

    NudgeBudget = apps.get_model("nudges", "NudgeBudget")
    NudgeBudget.objects.get_or_create(
        pk=1,
        defaults={
            "weekly_cap": rules.DEFAULT_WEEKLY_CAP,
            "quiet_start": rules.DEFAULT_QUIET_START,
            "quiet_end": rules.DEFAULT_QUIET_END,
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("nudges", "0004_experiment_plan_and_erased_observations"),
    ]

    operations = [
        migrations.RunPython(budget_row, migrations.RunPython.noop),
    ]
