"""Instructors see who was invited and who accepted, send a failed invitation again, and
follow the roster imports they confirmed."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Instructors"
PERMISSIONS = {
    "invitation": ("view", "change"),
    "rosterimport": ("view",),
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("onboarding")
    app_config.models_module = True
    try:
        create_permissions(app_config, apps=apps, verbosity=0)
    finally:
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="onboarding",
            codename__in=[
                f"{action}_{model}" for model, actions in PERMISSIONS.items() for action in actions
            ],
        )
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="onboarding"))


class Migration(migrations.Migration):
    dependencies = [
        ("onboarding", "0001_initial"),
        ("learners", "0002_instructors_group"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
