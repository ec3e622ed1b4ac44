"""Nudge's content type follows the model from ``learners`` to ``nudges``.

Relabelling the row (rather than letting ``post_migrate`` create a new one) keeps its
permissions and whoever holds them: the Instructors group's ``learners.view_nudge`` (given by
``learners/0002``) becomes ``nudges.view_nudge``. If both content types exist already (the new
one was created while this migration was unapplied), the holders of the old permissions get
the new ones of the same codename and the old content type goes.
"""

from django.db import migrations, router

MODEL = "nudge"


def relabel(apps, schema_editor, old: str, new: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    db = schema_editor.connection.alias
    if not router.allow_migrate_model(db, ContentType):
        return
    content_types = ContentType.objects.db_manager(db)
    moving = content_types.filter(app_label=old, model=MODEL).first()
    if moving is None:
        return
    existing = content_types.filter(app_label=new, model=MODEL).first()
    if existing is None:
        moving.app_label = new
        moving.save(using=db, update_fields=["app_label"])
    else:
        for permission in Permission.objects.using(db).filter(content_type=moving):
            replacement = (
                Permission.objects.using(db)
                .filter(content_type=existing, codename=permission.codename)
                .first()
            )
            if replacement is not None:
                replacement.group_set.add(*permission.group_set.all())
                replacement.user_set.add(*permission.user_set.all())
        moving.delete()
    ContentType.objects.clear_cache()


def forwards(apps, schema_editor):
    relabel(apps, schema_editor, old="learners", new="nudges")


def backwards(apps, schema_editor):
    relabel(apps, schema_editor, old="nudges", new="learners")


class Migration(migrations.Migration):
    dependencies = [
        ("nudges", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
