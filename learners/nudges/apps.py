from __future__ import annotations

from django.apps import AppConfig


class NudgesConfig(AppConfig):
    """Next-step nudges: the ledger, its admin, the sweep, sending and unsubscribe."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "learners.nudges"
    label = "nudges"
    verbose_name = "Nudges"

    def ready(self) -> None:
        # Hooks into allauth only; the receiver calls one service.
        from allauth.account.signals import email_confirmed

        from .receivers import nudge_on_email_confirmed

        email_confirmed.connect(nudge_on_email_confirmed, dispatch_uid="learners-nudge-welcome")
