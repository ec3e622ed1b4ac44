"""The "Instructors" group with least privilege.

Instructors manage learners, their progress, cohorts and the curriculum; they see nudges
and level history. They cannot delete users or learners, and cannot touch groups or
permissions (no auth.* permission at all). Site admins are superusers.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Instructors"

# app label -> model -> actions
PERMISSIONS = {
    "learners": {
        "user": ("view", "add", "change"),
        "learner": ("view", "add", "change"),
        "cohort": ("view", "add", "change", "delete"),
        "moduleprogress": ("view", "add", "delete"),
        "keycompletion": ("view", "add", "delete"),
        "levelchange": ("view",),
        "nudge": ("view",),
    },
    "curriculum": {
        "track": ("view", "change"),
        "level": ("view", "change"),
        "tracklevel": ("view", "add", "change"),
        "stage": ("view", "change"),
        "module": ("view", "change"),
        "key": ("view", "add", "change", "delete"),
        "symptom": ("view", "add", "change", "delete"),
        "successmetric": ("view", "add", "change", "delete"),
        "selfassessmentquestion": ("view", "add", "change", "delete"),
    },
}


def create_group(apps, schema_editor):
    # Permissions are normally created after all migrations ran; make them exist now.
    for app_label in ("learners", "curriculum"):
        app_config = apps.get_app_config(app_label)
        # Migration-state app configs have no models module; create_permissions skips those.
        app_config.models_module = True
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    wanted = [
        (app_label, f"{action}_{model}")
        for app_label, models in PERMISSIONS.items()
        for model, actions in models.items()
        for action in actions
    ]
    group.permissions.set(
        [
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in wanted
        ]
    )


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    """The "Instructors" group with least privilege."""

    dependencies = [
        ("learners", "0001_initial"),
        ("curriculum", "0002_load_curriculum"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
