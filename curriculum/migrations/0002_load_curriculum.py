from django.db import migrations


def load(apps, schema_editor):
    from curriculum.services import curriculum_load

    curriculum_load(apps=apps)


class Migration(migrations.Migration):
    dependencies = [("curriculum", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
