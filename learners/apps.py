from __future__ import annotations

from django.apps import AppConfig


def learner_on_signup(sender, request, user, **kwargs) -> None:
    """allauth created an account: give it its learner profile."""
    from .services import learner_ensure

    learner_ensure(user=user)


class LearnersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "learners"

    def ready(self) -> None:
        # Hooks into allauth only; each receiver calls one service.
        from allauth.account.signals import user_signed_up

        user_signed_up.connect(learner_on_signup, dispatch_uid="learners-learner-on-signup")

        # The curriculum's one hook: an edit that changes placement recomputes learners.
        from curriculum.signals import placement_rules_changed

        from .receivers import recompute_on_placement_rules_changed

        placement_rules_changed.connect(
            recompute_on_placement_rules_changed, dispatch_uid="learners-recompute-on-rules"
        )
