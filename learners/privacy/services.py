"""Writes: erasing a person's data, at once, leaving only a digest of their address."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import Learner, User
from ..nudges.api import experiment_observations_keep
from .models import Suppression
from .selectors import email_digest, personal_data_holdings

logger = logging.getLogger(__name__)

ERASED = "(erased)"


@transaction.atomic
def account_erase(*, user: User, actor: User | None = None) -> None:
    """Erase ``user`` and everything that points at them (learner, answers, progress,
    level history, nudges, email addresses, authenticators, events); anonymise admin log
    entries about them; keep a suppression digest of each of their addresses. ``actor`` is
    who asked (None: the person themselves), for the log line, which names ids only."""
    from allauth.account.models import EmailAddress

    addresses = {user.email.lower()} | {
        email.lower()
        for email in EmailAddress.objects.filter(user=user).values_list("email", flat=True)
    }
    for address in addresses:
        Suppression.objects.get_or_create(email_digest=email_digest(address))
    learner = Learner.objects.filter(user=user).first()
    user_id, learner_id = user.pk, learner.pk if learner else None
    if learner is not None:
        # Experiments keep the learner's observations without the person, so that erasure
        # never takes learners out of one group only.
        experiment_observations_keep(learner=learner)
    # Rows that point at the person without cascading (SET_NULL, PROTECT) are theirs too.
    for holding in personal_data_holdings():
        target = user if holding.owner == "user" else learner
        if target is not None and holding.model not in (Learner,):
            holding.model._default_manager.filter(**{holding.field: target}).delete()
    for model, pk in ((User, user_id), (Learner, learner_id)):
        if pk is not None:
            LogEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(model), object_id=str(pk)
            ).update(object_repr=ERASED, change_message="")
    scrubbed = webhook_events_scrub(addresses=addresses)
    sessions = sessions_end(user_id=user_id, addresses=addresses)
    if learner is not None:
        learner.delete()
    user.delete()
    logger.info(
        "account erased: user %s learner %s by %s; %s unmatched webhook events scrubbed; "
        "%s sessions ended",
        user_id,
        learner_id,
        f"staff user {actor.pk}" if actor is not None else "the account holder",
        scrubbed,
        sessions,
    )


def sessions_end(*, user_id: int, addresses: set[str], batch_size: int = 2000) -> int:
    """End every unexpired session signed in as ``user_id`` or holding one of
    ``addresses`` (a signup waiting for its confirmation, a flash message): the row and
    its copy in the cache (``cached_db``). Session data is signed and may be compressed,
    so each unexpired session is decoded; erasure is rare and the table holds at most
    ``SESSION_COOKIE_AGE`` of sessions, read in batches. Returns how many."""
    from django.contrib.sessions.models import Session

    engine = import_module(settings.SESSION_ENGINE)
    user_id_text = str(user_id)
    wanted = {address.lower() for address in addresses if address}
    ended = 0
    unexpired = Session.objects.filter(expire_date__gt=timezone.now()).order_by("pk")
    last = ""
    while True:
        batch = list(unexpired.filter(pk__gt=last).values_list("pk", "session_data")[:batch_size])
        if not batch:
            return ended
        last = batch[-1][0]
        for session_key, session_data in batch:
            store = engine.SessionStore(session_key=session_key)
            data = store.decode(session_data)
            if str(data.get("_auth_user_id")) == user_id_text or _mentions(data, wanted):
                store.delete(session_key)
                ended += 1


def _mentions(data, addresses: set[str]) -> bool:
    """Whether any text in the session's data holds one of ``addresses``. Flash messages
    are kept as JSON text, where a non-ASCII address is escaped."""
    if isinstance(data, dict):
        return any(_mentions(value, addresses) for value in data.values())
    if isinstance(data, list | tuple):
        return any(_mentions(value, addresses) for value in data)
    if not isinstance(data, str):
        return False
    text = data.lower()
    return any(address in text or json.dumps(address)[1:-1] in text for address in addresses)


def webhook_events_scrub(*, addresses: set[str]) -> int:
    """Every webhook event that names one of these addresses (unmatched, unmapped, failed,
    duplicates, refused before refusals stopped keeping bodies, an unreadable body that
    merely contains the address; the events of a learner are deleted with them) keeps
    only what names no one: the address, the body, the headers and the note are emptied,
    so it can never be replayed onto a person who comes back. Returns how many."""
    from ..integrations.models import WebhookEvent

    addresses = {address.strip().lower() for address in addresses if address}
    if not addresses:
        return 0
    naming = Q()
    for address in addresses:
        naming |= Q(email__iexact=address)
    scrubbed = set(WebhookEvent.objects.filter(naming).values_list("pk", flat=True))
    # Events whose address was never read from the body (refused or unreadable): look in
    # the body itself. Only these few kinds of event lack an address.
    unread = (
        WebhookEvent.objects.filter(email="")
        .exclude(body=b"")
        .exclude(pk__in=scrubbed)
        .values_list("pk", "body")
    )
    for pk, body in unread.iterator(chunk_size=500):
        text = bytes(body).decode("utf-8", errors="replace").lower()
        if any(address in text for address in addresses):
            scrubbed.add(pk)
    return WebhookEvent.objects.filter(pk__in=scrubbed).update(
        email="", body=b"", headers={}, note=ERASED, learner=None
    )


@dataclass(frozen=True)
class Pruned:
    deleted: int
    more: bool  # rows older than the cutoff are left for the next run


def nudges_prune(*, now=None, batch_size: int | None = None, max_batches: int | None = None):
    """Delete nudge ledger rows older than ``settings.NUDGE_RETENTION_DAYS``."""
    from ..nudges.api import Nudge

    return _prune(
        Nudge,
        "created_at",
        days=settings.NUDGE_RETENTION_DAYS,
        what="nudge ledger rows",
        now=now,
        batch_size=batch_size,
        max_batches=max_batches,
    )


def webhook_events_prune(
    *, now=None, batch_size: int | None = None, max_batches: int | None = None
):
    """Delete webhook events received more than ``settings.WEBHOOK_RETENTION_DAYS`` ago."""
    from ..integrations.models import WebhookEvent

    return _prune(
        WebhookEvent,
        "received_at",
        days=settings.WEBHOOK_RETENTION_DAYS,
        what="webhook events",
        now=now,
        batch_size=batch_size,
        max_batches=max_batches,
    )


def retention_prune(*, now=None) -> dict[str, Pruned]:
    """The daily retention run: each kind of record within its own bound of batches."""
    now = now or timezone.now()
    return {"nudges": nudges_prune(now=now), "webhook_events": webhook_events_prune(now=now)}


def _prune(model, field: str, *, days: int, what: str, now, batch_size, max_batches) -> Pruned:
    """Delete ``model`` rows whose ``field`` is older than ``days``, oldest first,
    ``batch_size`` rows per statement and at most ``max_batches`` statements per run (each
    its own short transaction, so the table is never locked for long)."""
    now = now or timezone.now()
    batch_size = batch_size or settings.RETENTION_BATCH_SIZE
    max_batches = max_batches or settings.RETENTION_MAX_BATCHES
    cutoff = now - timedelta(days=days)
    old = model.objects.filter(**{f"{field}__lt": cutoff}).order_by(field, "pk")
    deleted = 0
    more = True
    for _ in range(max_batches):
        ids = list(old.values_list("pk", flat=True)[:batch_size])
        if not ids:
            more = False
            break
        with transaction.atomic():
            deleted += model.objects.filter(pk__in=ids).delete()[0]
    else:
        more = old.exists()
    logger.info(
        "retention: %s %s deleted (older than %s)%s",
        deleted,
        what,
        cutoff.date(),
        "; more left for the next run" if more else "",
    )
    return Pruned(deleted, more=more)
