"""allauth's signals, each calling one service."""

from __future__ import annotations

from .services import invitation_accept


def invitation_accept_on_password_reset(sender, request, user, **kwargs) -> None:
    invitation_accept(user=user)
