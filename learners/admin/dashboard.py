"""The instructors' dashboard: the figures, each linking to the learner list it counts."""

from __future__ import annotations

import math

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse

from ..nudges.api import NUDGE_DAYS, NudgeKind, NudgeStatus, nudge_figures
from ..selectors import (
    dashboard_figures,
)
from .filters import learner_list_url


def dashboard_view(request: HttpRequest) -> TemplateResponse:
    """Instructors' dashboard: the figures, each linking to the learner list it counts."""
    if not request.user.has_perm("learners.view_learner"):
        raise PermissionDenied
    figures = dashboard_figures()
    nudges = nudge_figures(figures.now)
    tracks = []
    for track in figures.tracks:
        widest = track.widest or 1
        tracks.append(
            {
                "figures": track,
                "levels": [
                    {
                        "figure": level,
                        "width": max(
                            round(100 * level.learners / widest), 2 if level.learners else 0
                        ),
                        "url": learner_list_url(track__id__exact=track.track_id, level=level.level),
                        "inactive_url": learner_list_url(
                            track__id__exact=track.track_id,
                            level=level.level,
                            inactive=figures.inactive_days,
                        ),
                    }
                    for level in track.levels
                ],
                "modules": [
                    {
                        "figure": module,
                        "url": learner_list_url(
                            track__id__exact=track.track_id, module=module.number
                        ),
                        "share": (
                            math.floor(100 * module.completed / track.learners)
                            if track.learners
                            else 0
                        ),
                    }
                    for module in track.modules
                ],
                "url": learner_list_url(track__id__exact=track.track_id),
                "inactive_url": learner_list_url(
                    track__id__exact=track.track_id, inactive=figures.inactive_days
                ),
                "ups_url": learner_list_url(
                    track__id__exact=track.track_id,
                    level_changed=f"{figures.level_change_days}.up",
                ),
                "downs_url": learner_list_url(
                    track__id__exact=track.track_id,
                    level_changed=f"{figures.level_change_days}.down",
                ),
            }
        )
    # Kinds down, statuses across: every cell links to the learners it counts.
    counts = {(nudge.kind, nudge.status): nudge.count for nudge in nudges}
    nudge_statuses = [
        {"value": status.value, "label": status.label, "short": status.label.split(" (")[0]}
        for status in NudgeStatus
    ]
    nudge_rows = [
        {
            "label": kind.label,
            "cells": [
                {
                    "count": counts.get((kind.value, status.value), 0),
                    "url": learner_list_url(nudged=f"{kind.value}.{status.value}"),
                }
                for status in NudgeStatus
            ],
        }
        for kind in NudgeKind
    ]
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "figures": figures,
        "tracks": tracks,
        "nudge_statuses": nudge_statuses,
        "nudge_rows": nudge_rows,
        "nudge_total": sum(nudge.count for nudge in nudges),
        "nudge_days": NUDGE_DAYS,
        "all_url": learner_list_url(),
        "inactive_url": learner_list_url(inactive=figures.inactive_days),
    }
    return TemplateResponse(request, "admin/dashboard.html", context)
