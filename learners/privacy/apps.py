from __future__ import annotations

from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    """Learners' data rights: download my data, delete my account, erasure suppression."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "learners.privacy"
    label = "privacy"
    verbose_name = "Privacy"
