"""The nudge ledger in the admin, read-only; the experiments and their lift reports; the
budget; the learners' preferences, read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from solo.admin import SingletonModelAdmin

from .models import Experiment, Nudge, NudgeBudget, NudgePreference
from .report import LiftReport, experiment_lift
from .services.experiments import experiment_set_share


class ExperimentForm(forms.ModelForm):
    class Meta:
        model = Experiment
        fields = ("kind", "holdout_percent")


def report_bars(report: LiftReport) -> list[dict]:
    """The chart's bars: each outcome's share per group, in percent."""
    bars = []
    for outcome in report.outcomes:
        for group, share in (
            ("treated", outcome.lift.treated),
            ("held out", outcome.lift.held_out),
        ):
            value = share.value
            bars.append(
                {
                    "outcome": outcome.label,
                    "group": group,
                    "percent": round(100 * value, 1) if value is not None else None,
                    "n": share.n,
                }
            )
    return bars


@admin.register(Nudge)
class NudgeAdmin(admin.ModelAdmin):
    """The nudge ledger, read-only: instructors see what went out, failed or was interrupted."""

    list_select_related = ("learner__user",)
    list_display = (
        "created_at",
        "learner",
        "kind",
        "status",
        "experiment",
        "not_before",
        "attempts",
        "sent_at",
        "last_error",
    )
    list_filter = ("kind", "status")
    search_fields = ("learner__user__email",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    """Hold-out experiments. A new share for a kind ends its running experiment and starts a
    new one (results never mix); each experiment has its lift report."""

    form = ExperimentForm
    list_display = ("kind", "holdout_percent", "started_at", "ended_at", "report_link")
    list_filter = ("kind",)
    ordering = ("kind", "-started_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("started_at", "ended_at")
        if obj.ended_at is not None:
            return ("kind", "holdout_percent", "started_at", "ended_at")
        return ("kind", "started_at", "ended_at")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # its ledger rows refer to it

    def has_change_permission(self, request, obj=None) -> bool:
        # An ended experiment is a record: saving it would set its old share on the kind.
        if obj is not None and obj.ended_at is not None:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        # Through the service: a new share is a new experiment, never an edit of the old.
        new = experiment_set_share(kind=obj.kind, percent=obj.holdout_percent)
        if new is not None:
            obj.pk = new.pk
        messages.info(
            request,
            f"{obj.get_kind_display()}: "
            + (
                f"a new experiment holds out {obj.holdout_percent}% from now."
                if new is not None
                else "hold-out turned off; the running experiment ended."
            ),
        )

    @admin.display(description="lift report")
    def report_link(self, obj: Experiment):
        return format_html(
            '<a href="{}">Lift report</a>', reverse("admin:nudges_experiment_report", args=[obj.pk])
        )

    def get_urls(self):
        report = self.admin_site.admin_view(self.report_view)
        return [
            path("<int:pk>/report/", report, name="nudges_experiment_report"),
            *super().get_urls(),
        ]

    def report_view(self, request, pk: int):
        experiment = get_object_or_404(Experiment, pk=pk)
        if not self.has_view_permission(request, experiment):
            raise PermissionDenied
        report = experiment_lift(experiment=experiment)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Lift report: {experiment}",
            "report": report,
            "bars": report_bars(report),
        }
        return TemplateResponse(request, "admin/nudges/experiment/report.html", context)


@admin.register(NudgeBudget)
class NudgeBudgetAdmin(SingletonModelAdmin):
    """The one budget row (django-solo): its page shows the budget in force, the defaults
    until someone changes them, and saves it."""


@admin.register(NudgePreference)
class NudgePreferenceAdmin(admin.ModelAdmin):
    """The learners' own choices, read-only: only a learner changes them."""

    list_display = ("learner", "kinds_off", "learner_opted_out_at", "updated_at")
    list_select_related = ("learner__user",)
    search_fields = ("learner__user__email",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
