from django.db import migrations


class Migration(migrations.Migration):
    """The "Instructors" group with least privilege (filled in with the admin work)."""

    dependencies = [("learners", "0001_initial"), ("curriculum", "0002_load_curriculum")]

    operations = []
