"""The insights figures as of their last refresh: kept in the shared cache, refreshed hourly
by beat (``learners.tasks.insights_refresh_task``) and on an instructor's "refresh now"."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.cache import cache
from django.utils import timezone

from curriculum.models import Track
from curriculum.selectors import curriculum_version

from ..models import Cohort
from .selectors import Insights, insights_figures

# Beat refreshes every track's figures hourly (``learners.tasks.insights_refresh_task``): all
# cohorts and each cohort, and every view filtered by start date that someone opened in the
# last day. A view nobody opened before is computed on its first request. Kept a little over
# the hour so a late refresh never leaves the page to compute them while someone waits.
INSIGHTS_CACHE_SECONDS = 2 * 60 * 60
# The date-filtered views opened lately: (track, cohort, from, to) -> when last opened. A
# write lost between two processes opening views at once costs that view one refresh.
INSIGHTS_OPENED_KEY = "insights:opened:v1"
INSIGHTS_OPENED_KEPT = timedelta(days=1)


def _insights_key(track_id: int, cohort_id, joined_from, joined_to) -> str:
    parts = (track_id, cohort_id or "", joined_from or "", joined_to or "")
    return f"insights:v1:{curriculum_version()}:" + ":".join(str(part) for part in parts)


def insights_as_of(
    *,
    track: Track,
    cohort_id: int | None = None,
    joined_from: date | None = None,
    joined_to: date | None = None,
    fresh: bool = False,
) -> Insights:
    """``insights_figures`` as of their last refresh (their ``now`` says when), from the
    shared cache; computed (and kept) on a miss, or when ``fresh``."""
    if joined_from or joined_to:
        _remember_opened((track.pk, cohort_id, joined_from, joined_to))
    if not fresh:
        cached = cache.get(_insights_key(track.pk, cohort_id, joined_from, joined_to))
        if isinstance(cached, Insights):
            return cached
    return _insights_kept(track, cohort_id, joined_from, joined_to)


def _insights_kept(track: Track, cohort_id, joined_from, joined_to) -> Insights:
    """Compute a view's figures and keep them in the shared cache."""
    figures = insights_figures(
        track=track, cohort_id=cohort_id, joined_from=joined_from, joined_to=joined_to
    )
    cache.set(
        _insights_key(track.pk, cohort_id, joined_from, joined_to),
        figures,
        INSIGHTS_CACHE_SECONDS,
    )
    return figures


def _remember_opened(view: tuple) -> None:
    opened = cache.get(INSIGHTS_OPENED_KEY) or {}
    opened[view] = timezone.now()
    cache.set(INSIGHTS_OPENED_KEY, opened, int(INSIGHTS_OPENED_KEPT.total_seconds()))


def _opened_lately() -> list[tuple]:
    """The date-filtered views opened within ``INSIGHTS_OPENED_KEPT`` (older ones dropped)."""
    since = timezone.now() - INSIGHTS_OPENED_KEPT
    opened = {
        view: at for view, at in (cache.get(INSIGHTS_OPENED_KEY) or {}).items() if at >= since
    }
    cache.set(INSIGHTS_OPENED_KEY, opened, int(INSIGHTS_OPENED_KEPT.total_seconds()))
    return sorted(opened, key=str)


def insights_refresh() -> int:
    """Recompute every track's figures (all cohorts and each cohort) and every date-filtered
    view opened in the last day; returns how many views."""
    cohorts = [None, *Cohort.objects.order_by("pk").values_list("pk", flat=True)]
    tracks = {track.pk: track for track in Track.objects.order_by("order", "slug")}
    refreshed = 0
    for track in tracks.values():
        for cohort_id in cohorts:
            _insights_kept(track, cohort_id, None, None)
            refreshed += 1
    # Refreshing a view is not opening it: one nobody opens for a day drops out.
    for track_id, cohort_id, joined_from, joined_to in _opened_lately():
        if track_id in tracks:
            _insights_kept(tracks[track_id], cohort_id, joined_from, joined_to)
            refreshed += 1
    return refreshed
