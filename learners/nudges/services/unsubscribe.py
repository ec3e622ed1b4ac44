"""The one-click unsubscribe (RFC 8058): every nudge off, as the learner's own decision."""

from __future__ import annotations

from ...models import Learner
from ..content import unsubscribe_learner_id
from .preferences import learner_turn_nudges_on_or_off


def learner_unsubscribe(*, token: str) -> Learner:
    """Turn every nudge off for the learner the token names (idempotent), remembered as the
    learner's decision; pending nudges are skipped. Raises ``signing.BadSignature``
    (tampered) or ``Learner.DoesNotExist``."""
    learner = Learner.objects.select_related("user").get(pk=unsubscribe_learner_id(token))
    learner_turn_nudges_on_or_off(learner=learner, enabled=False)
    return learner
