"""allauth's signup: platform events that arrived before the account are replayed."""

from __future__ import annotations

from .services.replay import webhook_events_replay_for


def replay_on_signup(sender, request, user, **kwargs) -> None:
    webhook_events_replay_for(emails=[user.email])
