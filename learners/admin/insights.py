"""The insights page: where learners get stuck, per track, by cohort and date joined; each
figure a chart with its table, a CSV, links to exactly the learners it counts, and a
next-step nudge sent from it."""

from __future__ import annotations

import csv
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from curriculum.models import Track

from ..insights.refresh import insights_as_of
from ..insights.selectors import (
    Insights,
    learners_at_risk,
    learners_in_scope,
    learners_never_started,
    learners_stuck_at,
)
from ..models import Cohort
from ..nudges.api import nudge_send_now
from .filters import learner_list_url

CSV_TABLES = ("levels", "cohorts", "modules", "stuck", "targeting")


class InsightsForm(forms.Form):
    track = forms.ModelChoiceField(Track.objects.order_by("order", "slug"), empty_label=None)
    cohort = forms.ModelChoiceField(
        Cohort.objects.order_by("-start_date", "name"), required=False, empty_label="All cohorts"
    )
    joined_from = forms.DateField(
        required=False, label="Joined from", widget=forms.DateInput(attrs={"type": "date"})
    )
    joined_to = forms.DateField(
        required=False, label="Joined to", widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("joined_from"), data.get("joined_to")
        if start and end and end < start:
            self.add_error("joined_to", "The end date is before the start date.")
        return data

    def list_params(self) -> dict:
        """The learner list's query parameters for the same learners."""
        data = self.cleaned_data
        params = {"track__id__exact": data["track"].pk}
        if data.get("cohort"):
            params["cohort__id__exact"] = data["cohort"].pk
        start, end = data.get("joined_from"), data.get("joined_to")
        if start or end:
            params["joined"] = f"{start or ''}~{end or ''}"
        return params

    def scope(self):
        data = self.cleaned_data
        return learners_in_scope(
            track_id=data["track"].pk,
            cohort_id=data["cohort"].pk if data.get("cohort") else None,
            joined_from=data.get("joined_from"),
            joined_to=data.get("joined_to"),
        )


def _form(request: HttpRequest) -> InsightsForm:
    data = request.GET.copy()
    if "track" not in data:
        first = Track.objects.order_by("order", "slug").values_list("pk", flat=True).first()
        data["track"] = str(first or "")
    return InsightsForm(data)


def insights_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("learners.view_learner"):
        raise PermissionDenied
    form = _form(request)
    if request.method == "POST":
        return _act(request, form)
    if not form.is_valid():
        return _render(request, form, None)
    data = form.cleaned_data
    insights = insights_as_of(
        track=data["track"],
        cohort_id=data["cohort"].pk if data.get("cohort") else None,
        joined_from=data.get("joined_from"),
        joined_to=data.get("joined_to"),
        fresh=request.GET.get("fresh") == "1",
    )
    table = request.GET.get("csv")
    if table in CSV_TABLES:
        return _csv(insights, table)
    return _render(request, form, insights)


def _act(request: HttpRequest, form: InsightsForm) -> HttpResponse:
    """A next-step nudge now, to the learners of one figure (the ledger decides: never twice
    a day, never to a learner who opted out or whose address is unverified)."""
    if not request.user.has_perm("learners.change_learner"):
        raise PermissionDenied
    back = f"{reverse('admin_insights')}?{request.GET.urlencode()}"
    if not form.is_valid():
        messages.error(request, "Choose a track (and valid dates) first.")
        return redirect(back)
    target = request.POST.get("target", "")
    scope = form.scope()
    if target.startswith("stuck:"):
        learners = learners_stuck_at(scope, target.removeprefix("stuck:"))
    elif target == "at_risk":
        learners = learners_at_risk(scope)
    elif target == "never":
        learners = learners_never_started(scope)
    else:
        messages.error(request, "Nothing was sent: choose a list to nudge.")
        return redirect(back)
    ids = list(learners.values_list("pk", flat=True))
    sent = nudge_send_now(learner_ids=ids)
    skipped = len(ids) - sent
    messages.add_message(
        request,
        messages.SUCCESS if sent else messages.WARNING,
        f"Next-step nudge queued for {sent} of {len(ids)} learner{'s' if len(ids) != 1 else ''}"
        + (
            f"; {skipped} left out (opted out, unverified, no track, or already nudged today)."
            if skipped
            else "."
        ),
    )
    return redirect(back)


def _share(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


LABEL_HEIGHT, BAR_HEIGHT, ROW_GAP, BAR_SPACE = 16, 12, 10, 85


def _bars(rows: list[tuple[str, list[int]]], series: list[str]) -> dict:
    """A horizontal bar chart drawn by ``admin/insights/bars.html``: each row a label above
    one bar per series. Widths are percentages of the chart, so it fits any width (the
    label sits above its bars, never beside them)."""
    widest = max((value for _, values in rows for value in values), default=0) or 1
    drawn, y = [], 0
    for label, values in rows:
        bars = []
        for i, value in enumerate(values):
            width = round(BAR_SPACE * value / widest, 1)
            top = y + LABEL_HEIGHT + i * (BAR_HEIGHT + 2)
            bars.append({"value": value, "width": width, "series": i, "y": top, "text_y": top + 10})
        drawn.append({"label": label, "label_y": y + 12, "bars": bars})
        y += LABEL_HEIGHT + len(values) * (BAR_HEIGHT + 2) + ROW_GAP
    return {"series": list(enumerate(series)), "rows": drawn, "height": max(y, 1)}


def _render(request: HttpRequest, form: InsightsForm, insights: Insights | None) -> HttpResponse:
    context = {
        **admin.site.each_context(request),
        "title": "Insights",
        "form": form,
        "insights": insights,
        "can_nudge": request.user.has_perm("learners.change_learner"),
    }
    if insights is not None:
        params = form.list_params()
        query = request.GET.copy()
        query.pop("csv", None)
        query.pop("fresh", None)

        def csv_url(table: str) -> str:
            return f"?{urlencode({**query.dict(), 'csv': table})}"

        def export_url(**extra) -> str:
            return f"{reverse('admin:learners_learner_export')}?{urlencode({**params, **extra})}"

        inactive = {"inactive": insights.inactive_days}
        context.update(
            {
                "csv": {table: csv_url(table) for table in CSV_TABLES},
                "fresh_url": f"?{urlencode({**query.dict(), 'fresh': '1'})}",
                "all_url": learner_list_url(**params),
                "level_chart": _bars(
                    [
                        (f"{row.level} {row.name}", [row.placed, row.reached])
                        for row in insights.funnel.rows
                    ],
                    ["placed at", "reached since"],
                ),
                "levels": [
                    {"row": row, "url": learner_list_url(**params, level=row.level)}
                    for row in insights.funnel.rows
                ],
                "module_chart": _bars(
                    [(f"M{row.number}", [row.reached, row.finished]) for row in insights.modules],
                    ["reached", "finished"],
                ),
                "modules": [
                    {"row": row, "url": learner_list_url(**params, module=row.number)}
                    for row in insights.modules
                ],
                "stuck_chart": _bars(
                    [(f"After {point.last_done}", [point.learners]) for point in insights.stuck],
                    ["learners"],
                ),
                "stuck": [
                    {
                        "point": point,
                        "url": learner_list_url(**params, stuck=point.code),
                        "export_url": export_url(stuck=point.code),
                        "target": f"stuck:{point.code}",
                    }
                    for point in insights.stuck
                ],
                "at_risk_url": learner_list_url(**params, **inactive, progress="started"),
                "at_risk_export_url": export_url(**inactive, progress="started"),
                "never_url": learner_list_url(**params, progress="never"),
                "never_export_url": export_url(progress="never"),
                "no_assessment_url": learner_list_url(**params, progress="no_assessment"),
                "no_tick_url": learner_list_url(**params, progress="no_tick"),
                "targeting": [
                    {
                        "row": row,
                        "url": learner_list_url(**params, level=row.level),
                        "export_url": export_url(level=row.level),
                        "share": _share(row.learners, insights.learners),
                    }
                    for row in insights.targeting
                ],
            }
        )
    return TemplateResponse(request, "admin/insights.html", context)


def _days(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _csv(insights: Insights, table: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime(insights.now).strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="insights-{table}-{stamp}.csv"'
    writer = csv.writer(response)
    if table == "levels":
        writer.writerow(["level", "name", "placed at", "reached since", "median days to reach"])
        for row in insights.funnel.rows:
            writer.writerow([row.level, row.name, row.placed, row.reached, _days(row.median_days)])
    elif table == "cohorts":
        writer.writerow(["cohort", "level", "name", "placed at", "reached since", "median days"])
        for funnel in insights.cohorts:
            for row in funnel.rows:
                writer.writerow(
                    [funnel.label, row.level, row.name, row.placed, row.reached]
                    + [_days(row.median_days)]
                )
    elif table == "modules":
        writer.writerow(["module", "title", "reached", "finished", "lost since the previous"])
        for row in insights.modules:
            lost = "" if row.lost is None else row.lost
            writer.writerow([row.number, row.title, row.reached, row.finished, lost])
    elif table == "stuck":
        writer.writerow(["stuck point", "last done", "next not done", "learners"])
        for point in insights.stuck:
            writer.writerow([point.code, point.last_done, point.next_up, point.learners])
    else:
        writer.writerow(["level", "name", "learners", "pain", "promise", "offer"])
        for row in insights.targeting:
            writer.writerow([row.level, row.name, row.learners, row.pain, row.promise, row.offer])
    return response
