"""New learners (allauth's signup, the roster's import): platform events that arrived before
them are replayed. Connected in ``IntegrationsConfig.ready``; each receiver calls one service."""

from __future__ import annotations

from .services.replay import webhook_events_replay_for


def replay_on_signup(sender, request, user, **kwargs) -> None:
    webhook_events_replay_for(emails=[user.email])


def replay_on_import(sender, emails, **kwargs) -> None:
    webhook_events_replay_for(emails=emails)
