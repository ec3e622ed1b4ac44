"""The learner's own nudge choices: per kind on or off, or all off. Only the learner turns
nudges back on once they turned them all off (an import or an instructor cannot)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ...models import Learner
from .. import rules
from ..models import Nudge, NudgePreference, NudgeStatus


@transaction.atomic
def learner_set_nudge_preferences(
    *,
    learner: Learner,
    enabled: bool,
    kinds_off: Iterable[str] = (),
    now: datetime | None = None,
) -> NudgePreference:
    """The learner's choice (from their preference page, profile or an unsubscribe link):
    nudges on or all off, and the kinds they do not want. Pending nudges the choice rules
    out are skipped as "opted out". Raises ValueError on an unknown kind (nothing saved)."""
    kinds_off = sorted(set(kinds_off))
    unknown = [kind for kind in kinds_off if kind not in rules.KINDS]
    if unknown:
        raise ValueError(f"Unknown nudge kind: {', '.join(unknown)}.")
    now = now or timezone.now()
    # A write to the learner like any other: their pages' cached version goes stale.
    Learner.objects.filter(pk=learner.pk).touch(nudges_enabled=enabled)
    learner.nudges_enabled = enabled
    preference, _ = NudgePreference.objects.select_for_update().get_or_create(learner=learner)
    preference.kinds_off = kinds_off
    if not enabled:
        # The first "all off" is the one remembered; doing it again changes nothing.
        preference.learner_opted_out_at = preference.learner_opted_out_at or now
    else:
        preference.learner_opted_out_at = None
    preference.updated_at = now
    preference.save()
    pending = Nudge.objects.filter(learner=learner, status=NudgeStatus.PENDING)
    if enabled:
        pending = pending.filter(kind__in=kinds_off)
    pending.update(status=NudgeStatus.SKIPPED, last_error=rules.OPTED_OUT)
    return preference


def learner_turn_nudges_on_or_off(*, learner: Learner, enabled: bool, now: datetime | None = None):
    """The profile's single "nudges" switch: keeps the per-kind choices."""
    preference = NudgePreference.objects.filter(learner=learner).first()
    return learner_set_nudge_preferences(
        learner=learner,
        enabled=enabled,
        kinds_off=preference.kinds_off if preference else (),
        now=now,
    )
