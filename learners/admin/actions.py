"""Actions of the learner list: recompute, export as roster CSV, send a next-step nudge."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponse
from django.utils import timezone

from ..broker import task_hand_on_commit
from ..models import Learner
from ..nudges.api import nudge_send_now
from ..roster import roster_export
from ..tasks import recompute_learners_task


def roster_csv_response(queryset) -> HttpResponse:
    """The learners of ``queryset`` as a roster CSV download."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="learners-{stamp}.csv"'
    roster_export(Learner.objects.filter(pk__in=queryset.values("pk")), response)
    return response


@admin.action(description="Recompute the level of the selected learners", permissions=["change"])
def recompute_levels(modeladmin, request, queryset) -> None:
    ids = list(queryset.values_list("pk", flat=True))
    task_hand_on_commit(recompute_learners_task, learner_ids=ids)
    modeladmin.message_user(
        request,
        f"Recomputing the levels of {len(ids)} learner{'s' if len(ids) != 1 else ''} "
        "in the background.",
        messages.SUCCESS,
    )


@admin.action(description="Export the selected learners as roster CSV", permissions=["view"])
def export_roster_csv(modeladmin, request, queryset) -> HttpResponse:
    return roster_csv_response(queryset)


@admin.action(description="Send a next-step nudge now", permissions=["change"])
def send_next_step_nudge(modeladmin, request, queryset) -> None:
    ids = list(queryset.values_list("pk", flat=True))
    sent = nudge_send_now(learner_ids=ids)
    skipped = len(ids) - sent
    modeladmin.message_user(
        request,
        f"Next-step nudge queued for {sent} learner{'s' if sent != 1 else ''}"
        + (f"; {skipped} skipped (opted out, unverified or no track)." if skipped else "."),
        messages.SUCCESS if sent else messages.WARNING,
    )
