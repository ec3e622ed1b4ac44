"""A level's "Focus" line held two alternative headlines in one text ('"A" or "B"'): split
into headline A and headline B, so that an email uses one and never the raw line."""

from django.db import migrations, models

from curriculum.seed import headlines, read_seed


def split_focus(apps, schema_editor):
    """Each level's line as instructors left it, split; a blank line (a database loaded by
    migration 0002, which no longer fills it) takes the document's headlines."""
    Level = apps.get_model("curriculum", "Level")
    document = {level.number: level.headlines for level in read_seed().levels}
    for level in Level.objects.all():
        found = headlines(level.focus) or document.get(level.number, ())
        level.headline_a = found[0][:200] if found else ""
        level.headline_b = found[1][:200] if len(found) > 1 else ""
        level.save(update_fields=["headline_a", "headline_b"])


def join_headlines(apps, schema_editor):
    Level = apps.get_model("curriculum", "Level")
    for level in Level.objects.all():
        level.focus = " or ".join(f'"{h}"' for h in (level.headline_a, level.headline_b) if h)
        level.save(update_fields=["focus"])


class Migration(migrations.Migration):
    dependencies = [
        ("curriculum", "0004_module_course_url"),
    ]

    operations = [
        migrations.AddField(
            model_name="level",
            name="headline_a",
            field=models.CharField(blank=True, max_length=200, verbose_name="headline A"),
        ),
        migrations.AddField(
            model_name="level",
            name="headline_b",
            field=models.CharField(blank=True, max_length=200, verbose_name="headline B"),
        ),
        migrations.RunPython(split_focus, join_headlines),
        migrations.RemoveField(
            model_name="level",
            name="focus",
        ),
    ]
