"""New learners (allauth's signup, the roster's import): platform events that arrived before
them are replayed; a connection saved or deleted is dropped from the receiver's cache.
Connected in ``IntegrationsConfig.ready``; each receiver calls one service."""

from __future__ import annotations

from .models import PlatformConnection, connections_forget
from .services.replay import webhook_events_replay_for


def replay_on_signup(sender, request, user, **kwargs) -> None:
    webhook_events_replay_for(emails=[user.email])


def replay_on_import(sender, emails, **kwargs) -> None:
    webhook_events_replay_for(emails=emails)


def connection_remember_slug(sender, instance: PlatformConnection, **kwargs) -> None:
    """Before a save: the slug it had, whose cached copy must go too."""
    instance._slug_before = (
        PlatformConnection.objects.filter(pk=instance.pk).values_list("slug", flat=True).first()
        if instance.pk
        else None
    )


def connection_changed(sender, instance: PlatformConnection, **kwargs) -> None:
    connections_forget([instance.slug, getattr(instance, "_slug_before", None) or ""])
