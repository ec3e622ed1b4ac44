"""Receivers of allauth's signals (connected in ``NudgesConfig.ready``); each calls one service."""

from __future__ import annotations

from .services.ledger import nudge_welcome


def nudge_on_email_confirmed(sender, request, email_address, **kwargs) -> None:
    """A confirmed address: the welcome nudge, if it is the address the learner logs in with."""
    user = email_address.user
    if email_address.email.lower() == user.email.lower():
        nudge_welcome(user=user)
