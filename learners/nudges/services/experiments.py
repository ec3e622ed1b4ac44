"""Hold-out experiments: which one runs for a kind, who is held out, a new share."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .. import rules
from ..models import Experiment

HOLDOUT_KEY_SALT = "learners.nudges.holdout"


def holdout_key() -> bytes:
    """The hold-out hash's key, derived from SECRET_KEY (read at call time)."""
    return salted_hmac(HOLDOUT_KEY_SALT, "holdout-key").digest()


def experiments_running(*, now: datetime) -> dict[str, Experiment]:
    """kind -> the experiment running at ``now``. One query."""
    return {
        experiment.kind: experiment
        for experiment in Experiment.objects.filter(started_at__lte=now, ended_at__isnull=True)
    }


def experiment_assign(
    experiment: Experiment | None, learner_id: int, key: bytes
) -> tuple[Experiment | None, bool]:
    """The experiment a decision belongs to and whether the learner is held out of it."""
    if experiment is None:
        return None, False
    return experiment, rules.held_out(
        key=key,
        learner_id=learner_id,
        experiment_id=experiment.pk,
        percent=experiment.holdout_percent,
    )


@transaction.atomic
def experiment_set_share(
    *, kind: str, percent: int, now: datetime | None = None
) -> Experiment | None:
    """A new hold-out share for ``kind``: the running experiment ends now and a new one
    starts (results never mix); 0 ends it without a new one. Returns the new experiment."""
    if not 0 <= percent <= 100:
        raise ValueError("The hold-out share is a percentage from 0 to 100.")
    now = now or timezone.now()
    running = Experiment.objects.select_for_update().filter(kind=kind, ended_at__isnull=True)
    current = running.first()
    if current is not None and current.holdout_percent == percent:
        return current
    running.update(ended_at=now)
    if percent == 0:
        return None
    experiment = Experiment(kind=kind, holdout_percent=percent, started_at=now)
    experiment.full_clean()
    experiment.save()
    return experiment


def experiment_end(*, experiment: Experiment, now: datetime | None = None) -> None:
    Experiment.objects.filter(pk=experiment.pk, ended_at__isnull=True).update(
        ended_at=now or timezone.now()
    )
