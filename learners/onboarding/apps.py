from __future__ import annotations

from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    """Bringing a roster in: invitations to set a password, and imports run in the background."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "learners.onboarding"
    label = "onboarding"
    verbose_name = "Onboarding"

    def ready(self) -> None:
        # Hooks into allauth only; the receiver calls one service.
        from allauth.account.signals import password_reset

        from .receivers import invitation_accept_on_password_reset

        password_reset.connect(
            invitation_accept_on_password_reset, dispatch_uid="onboarding-invitation-accept"
        )
