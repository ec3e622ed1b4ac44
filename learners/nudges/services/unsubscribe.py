"""The one-click unsubscribe (RFC 8058): nudges off, pending ones skipped."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from ...models import Learner
from .. import rules
from ..content import unsubscribe_learner_id
from ..models import Nudge, NudgeStatus


def learner_unsubscribe(*, token: str) -> Learner:
    """Turn nudges off for the learner the token names (idempotent); pending nudges are
    skipped. Raises ``signing.BadSignature`` (tampered) or ``Learner.DoesNotExist``."""
    learner = Learner.objects.select_related("user").get(pk=unsubscribe_learner_id(token))
    with transaction.atomic():
        # A write to the learner like any other: their pages' cached version goes stale.
        Learner.objects.filter(pk=learner.pk).update(nudges_enabled=False, version=F("version") + 1)
        Nudge.objects.filter(learner=learner, status=NudgeStatus.PENDING).update(
            status=NudgeStatus.SKIPPED, last_error=rules.OPTED_OUT
        )
    learner.nudges_enabled = False
    return learner
