"""Reads: everything the site holds about a person, found by walking the models.

Any model with a foreign key or one-to-one field to the user or the learner is part of a
person's data, so a model added later is exported and erased without being listed here.
Fields that point at a person as the *actor* of a change to someone else's data
(``ACTOR_FIELDS``) are not theirs to download or erase, and ``SECRET_FIELDS`` (password
hashes, TOTP secrets, confirmation keys) are never exported.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.apps import apps
from django.db import models

from ..models import Learner, User

# Fields naming the person who did something (to another learner's data).
ACTOR_FIELDS = frozenset({"recorded_by", "created_by", "changed_by", "actor"})
# Never in an export: credentials and one-time secrets, by field name or model.field.
SECRET_FIELDS = frozenset(
    {
        "password",
        "secret",
        "secrets",
        "token",
        "token_hash",
        "key_hash",
        "url_token",
        "previous_url_token",
        "mfa.authenticator.data",
    }
)
# Models holding a person's data that are handled by name rather than by the walk.
NOT_WALKED = {
    "admin.logentry": "staff actions; entries about the person are anonymised on erasure",
}
DIGEST_PREFIX = "profit-pyramid-suppression:"


@dataclass(frozen=True)
class Holding:
    """One model field that points at the person (``owner``: the user or the learner)."""

    model: type[models.Model]
    field: str
    owner: str  # "user" or "learner"

    @property
    def label(self) -> str:
        return f"{self.model._meta.label_lower}.{self.field}"


def personal_data_holdings() -> list[Holding]:
    """Every field of every model that points at a user or a learner, actors excepted."""
    holdings = []
    for model in apps.get_models():
        if model._meta.label_lower in NOT_WALKED or model in (User,):
            continue
        for field in model._meta.get_fields():
            if not (field.concrete and (field.many_to_one or field.one_to_one)):
                continue
            if field.name in ACTOR_FIELDS:
                continue
            if field.related_model is User:
                holdings.append(Holding(model, field.name, "user"))
            elif field.related_model is Learner:
                holdings.append(Holding(model, field.name, "learner"))
    return sorted(holdings, key=lambda holding: holding.label)


def _row(obj: models.Model) -> dict:
    row = {}
    for field in obj._meta.concrete_fields:
        if field.name in SECRET_FIELDS or f"{obj._meta.label_lower}.{field.name}" in SECRET_FIELDS:
            continue
        value = field.value_from_object(obj)
        row[field.attname] = _readable(value) if isinstance(value, bytes | memoryview) else value
    return row


def _readable(raw: bytes | memoryview):
    """Bytes as a person can read them: parsed JSON (a webhook event's body), else text."""
    text = bytes(raw).decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def person_rows(*, user: User) -> Iterator[tuple[Holding, list[dict]]]:
    learner = Learner.objects.filter(user=user).first()
    for holding in personal_data_holdings():
        target = user if holding.owner == "user" else learner
        if target is None:
            yield holding, []
            continue
        rows = holding.model._default_manager.filter(**{holding.field: target}).order_by("pk")
        yield holding, [_row(obj) for obj in rows]


def learner_data_export(*, user: User) -> dict:
    """Everything the site holds about ``user``, as JSON-ready data: first the record a
    person reads (``record.person_record``: account, self-assessment, level history, modules
    and keys, nudges, in words, dates in their zone), then ``holdings``: one section per
    model field that points at them (see the module docstring), as stored, so that nothing
    is left out."""
    from django.utils import timezone

    from .record import person_record

    return {
        **person_record(user=user, now=timezone.now()),
        "holdings": {holding.label: rows for holding, rows in person_rows(user=user)},
    }


def email_digest(email: str) -> str:
    """The digest a suppression stores for ``email`` (case-insensitive)."""
    return hashlib.sha256((DIGEST_PREFIX + email.strip().lower()).encode()).hexdigest()


def suppressed_emails(emails: list[str]) -> set[str]:
    """Those of ``emails`` (lower-cased) that belong to an erased account."""
    from .models import Suppression

    digests = {email_digest(email): email.strip().lower() for email in emails}
    found = Suppression.objects.filter(email_digest__in=list(digests)).values_list(
        "email_digest", flat=True
    )
    return {digests[digest] for digest in found}
