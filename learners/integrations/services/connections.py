"""Platform connections: the secrets and URL tokens only their own permission may set."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from ..models import PlatformConnection, new_url_token

# How long the URL token before a rotation keeps working: time to paste the new URL into
# the platform's settings.
TOKEN_GRACE = timedelta(days=7)


@transaction.atomic
def connection_rotate_url_token(
    *,
    connection: PlatformConnection,
    grace: timedelta = TOKEN_GRACE,
    now: datetime | None = None,
) -> PlatformConnection:
    """A new URL token; the current one stays valid for ``grace``."""
    now = now or timezone.now()
    connection = PlatformConnection.objects.select_for_update().get(pk=connection.pk)
    connection.previous_url_token = connection.url_token
    connection.previous_url_token_until = now + grace
    connection.url_token = new_url_token()
    connection.save(update_fields=["url_token", "previous_url_token", "previous_url_token_until"])
    return connection


def connection_set_secrets(
    *, connection: PlatformConnection, new_secret: str, keep_current: bool
) -> PlatformConnection:
    """Set the signing secret; ``keep_current`` keeps the secrets in force beside it
    (during a rotation a delivery signed with any of them is accepted)."""
    kept = connection.secret_list if keep_current else []
    secrets = [new_secret.strip(), *(secret for secret in kept if secret != new_secret.strip())]
    connection.secrets = "\n".join(secret for secret in secrets if secret)
    connection.save(update_fields=["secrets"])
    return connection


def secret_masked(secret: str) -> str:
    """How a secret is shown: never more than its last four characters."""
    return f"•••• {secret[-4:]}" if len(secret) >= 12 else "••••"
