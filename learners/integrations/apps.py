from __future__ import annotations

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """The REST API's keys, platform connections and inbound webhook events."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "learners.integrations"
    label = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        # A learner who signs up (allauth) or is imported (the roster) gets the platform
        # events that arrived before their account (each receiver calls one service).
        from allauth.account.signals import user_signed_up
        from django.db.models.signals import post_delete, post_save, pre_save

        from ..roster.signals import learners_imported
        from .models import PlatformConnection
        from .receivers import (
            connection_changed,
            connection_remember_slug,
            replay_on_import,
            replay_on_signup,
        )

        user_signed_up.connect(replay_on_signup, dispatch_uid="integrations-replay-on-signup")
        learners_imported.connect(replay_on_import, dispatch_uid="integrations-replay-on-import")
        # The receiver's cached connection (selectors.connection_by_slug) is dropped on
        # every change.
        pre_save.connect(connection_remember_slug, sender=PlatformConnection)
        post_save.connect(connection_changed, sender=PlatformConnection)
        post_delete.connect(connection_changed, sender=PlatformConnection)
