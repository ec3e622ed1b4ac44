"""The nudge ledger, taken over from the learners app (``learners/0005``).

State only: the table ``learners_nudge`` with its rows, index and constraint already exists,
created by ``learners/0001_initial``; nothing is written to the database.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("learners", "0005_nudge_to_nudges_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Nudge",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("welcome", "Welcome"),
                                    ("self_assessment", "Self-assessment reminder"),
                                    ("next_step", "Next step"),
                                    ("level_up", "Level up"),
                                ],
                                max_length=32,
                            ),
                        ),
                        ("dedup_key", models.CharField(max_length=64)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "Pending"),
                                    ("sending", "Sending (interrupted if it stays here)"),
                                    ("sent", "Sent"),
                                    ("failed", "Failed"),
                                    ("skipped", "Skipped"),
                                ],
                                default="pending",
                                max_length=16,
                            ),
                        ),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("last_error", models.TextField(blank=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "handed_at",
                            models.DateTimeField(
                                blank=True,
                                help_text="When it was last handed to a worker.",
                                null=True,
                            ),
                        ),
                        ("sending_started_at", models.DateTimeField(blank=True, null=True)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "learner",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="nudges",
                                to="learners.learner",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "learners_nudge",
                        "ordering": ["-created_at"],
                        "indexes": [
                            models.Index(
                                fields=["status", "created_at"], name="nudge_status_created"
                            )
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("learner", "kind", "dedup_key"),
                                name="nudge_unique_per_dedup_key",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
