"""Email addresses unique whatever their case, in the database.

Accounts whose addresses differ only in case are one person's (or a takeover waiting to
happen); which one to keep is a person's decision, so the migration stops and lists them
rather than guess. Addresses that are unique but not lower-case are lower-cased, as every
way in now writes them.
"""

import django.db.models.functions.text
from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import Lower


def refuse_case_duplicates(apps, schema_editor):
    User = apps.get_model("learners", "User")
    duplicates = (
        User.objects.annotate(email_lower=Lower("email"))
        .values("email_lower")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("email_lower", flat=True)
    )
    clashes = {
        email: list(
            User.objects.filter(email__iexact=email).order_by("pk").values_list("pk", "email")
        )
        for email in duplicates
    }
    if clashes:
        listing = "; ".join(
            ", ".join(f"user {pk} <{address}>" for pk, address in accounts)
            for accounts in clashes.values()
        )
        raise RuntimeError(
            f"{len(clashes)} email address(es) belong to more than one account when case is "
            f"ignored: {listing}. Merge or rename those accounts (admin: Users), then migrate "
            f"again."
        )
    for user in User.objects.exclude(email=Lower("email")).only("pk", "email"):
        User.objects.filter(pk=user.pk).update(email=user.email.lower())


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("learners", "0006_recompute_for_income_gates"),
    ]

    operations = [
        migrations.RunPython(refuse_case_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("email"),
                name="user_email_unique_ci",
                violation_error_message="Another account already has this email address.",
            ),
        ),
    ]
