from __future__ import annotations

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """The REST API's keys, platform connections and inbound webhook events."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "learners.integrations"
    label = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        # Hooks into allauth only: a learner who signs up gets the platform events that
        # arrived before their account (the receiver calls one service).
        from allauth.account.signals import user_signed_up

        from .receivers import replay_on_signup

        user_signed_up.connect(replay_on_signup, dispatch_uid="integrations-replay-on-signup")
