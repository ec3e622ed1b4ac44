"""API keys: created with a random secret shown once, stored as a SHA-256 hash.

A key reads ``pp_<prefix>_<secret>``: the prefix finds the row, the hash of the whole key
is compared in constant time. The secret has 256 bits of entropy, so a fast hash is the
right one (a slow password hash would only slow every request).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from ..models import ApiKey, ApiScope

KEY_PREFIX = "pp"
# last_used_at is written at most once a minute per key, not on every request.
LAST_USED_GRANULARITY = timedelta(minutes=1)


def _hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_create(*, name: str, scope: str = ApiScope.READ, created_by=None) -> tuple[ApiKey, str]:
    """A new key and its secret text (shown once, never stored)."""
    prefix = secrets.token_hex(4)
    raw = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name, prefix=prefix, hashed_key=_hash(raw), scope=scope, created_by=created_by
    )
    key.full_clean()
    key.save()
    return key, raw


def api_key_authenticate(raw_key: str, *, now: datetime | None = None) -> ApiKey | None:
    """The active key ``raw_key`` is, or None; notes when it was last used."""
    parts = raw_key.split("_")
    if len(parts) < 3 or parts[0] != KEY_PREFIX:
        return None
    key = ApiKey.objects.filter(prefix=parts[1], revoked_at__isnull=True).first()
    if key is None or not hmac.compare_digest(key.hashed_key, _hash(raw_key)):
        return None
    now = now or timezone.now()
    ApiKey.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_GRANULARITY), pk=key.pk
    ).update(last_used_at=now)
    return key


def api_keys_revoke(*, key_ids: list[int], now: datetime | None = None) -> int:
    """Revoke keys (already revoked ones keep their time); returns how many were revoked."""
    return ApiKey.objects.filter(pk__in=key_ids, revoked_at__isnull=True).update(
        revoked_at=now or timezone.now()
    )
