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

from . import plan, rules
from .models import Experiment, Nudge, NudgeBudget, NudgePreference
from .report import Report, ledger_baselines
from .services.experiments import experiment_plan, experiment_report_keep, experiment_set_share

# The sizes and shares the plan table shows, so the share is chosen with them in view.
PLAN_SHARES = (10, 20, 30, 50)
PLAN_SIZES = (500, 1000, 2000, 5000)
# The plan's numbers before the instructor gives any.
PLAN_DEFAULTS = {
    "baseline_percent": 100 * plan.DEFAULT_BASELINE,
    "min_lift_points": 100 * plan.DEFAULT_MIN_LIFT,
    "holdout_percent": rules.DEFAULT_HOLDOUT_PERCENT,
}


class ExperimentForm(forms.ModelForm):
    class Meta:
        model = Experiment
        fields = (
            "kind",
            "holdout_percent",
            "primary_outcome",
            "baseline_percent",
            "min_lift_points",
        )


def _points(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.1f}"


def plan_preview(baseline_percent, min_lift_points, holdout_percent) -> dict | None:
    """What the form's numbers plan: the learners needed at this share and at others, and
    what a given number of learners can detect (the inverse). None for numbers that plan
    nothing (the form says why)."""
    try:
        baseline, lift = float(baseline_percent) / 100, float(min_lift_points) / 100
        share = int(holdout_percent) / 100
        plan.planned_learners(baseline, lift, 0.5)
    except (TypeError, ValueError):
        return None
    planned = experiment_plan(
        baseline_percent=100 * baseline,
        min_lift_points=100 * lift,
        holdout_percent=int(holdout_percent),
    )
    return {
        "baseline": f"{100 * baseline:.1f}",
        "lift": f"{100 * lift:.1f}",
        "share": int(holdout_percent),
        "planned": f"{planned:,}",
        "shares": [
            (percent, f"{plan.planned_learners(baseline, lift, percent / 100):,}")
            for percent in PLAN_SHARES
        ],
        "sizes": [
            (f"{size:,}", _points(plan.detectable_lift(baseline, size, share)))
            for size in PLAN_SIZES
            if 0 < share < 1
        ],
    }


def report_context(report: Report) -> dict:
    """The report's numbers in the words and units the page shows."""
    verdict = report.verdict
    primary = None
    if verdict.shown:
        primary = {
            "treated": _points(verdict.treated.value),
            "held_out": _points(verdict.held_out.value),
            "difference": f"{100 * verdict.difference:+.1f}",
            "low": f"{100 * verdict.low:+.1f}",
            "high": f"{100 * verdict.high:+.1f}",
        }
    secondary = [
        {
            "label": read.spec.label,
            "treated": read.treated,
            "held_out": read.held_out,
            "treated_percent": _points(read.treated.value),
            "held_out_percent": _points(read.held_out.value),
            "difference": "-" if read.difference is None else f"{100 * read.difference:+.1f}",
        }
        for read in report.secondary
    ]
    rows = [
        (label, treated, held)
        for (label, treated), (_, held) in zip(
            report.treated.rows, report.held_out.rows, strict=True
        )
    ]
    detectable = report.detectable_now
    return {
        "report": report,
        "primary": primary,
        "secondary": secondary,
        "row_counts": rows,
        "detectable_now": _points(detectable) if detectable is not None else None,
        "observed_share": _points(report.sample_ratio.observed_share),
    }


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
    """Hold-out experiments, planned before they start. A new share or plan for a kind ends
    its running experiment and starts a new one (results never mix); each experiment has
    its report."""

    form = ExperimentForm
    change_form_template = "admin/nudges/experiment/change_form.html"
    list_display = ("kind", "holdout_percent", "planned_learners", "runs", "report_link")
    list_filter = ("kind",)
    ordering = ("kind", "-started_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()  # the plan is computed, shown above the form
        if obj.ended_at is not None:
            return (
                "kind",
                "holdout_percent",
                "primary_outcome",
                "baseline_percent",
                "min_lift_points",
                "planned_learners",
                "started_at",
                "ended_at",
            )
        return ("kind", "planned_learners", "started_at", "ended_at")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # its ledger rows refer to it

    def has_change_permission(self, request, obj=None) -> bool:
        # An ended experiment is a record: saving it would set its old share on the kind.
        if obj is not None and obj.ended_at is not None:
            return False
        return super().has_change_permission(request, obj)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        kind = initial.get("kind", Experiment._meta.get_field("kind").choices[-1][0])
        baseline = ledger_baselines().get((kind, plan.DEFAULT_PRIMARY))
        if baseline is not None and baseline.n >= plan.MIN_BASELINE_SAMPLE:
            initial.setdefault("baseline_percent", round(100 * baseline.value, 1))
        return initial

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), **self._plan_context(request, object_id)}
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _plan_context(self, request, object_id) -> dict:
        obj = self.get_object(request, object_id) if object_id else None
        defaults = PLAN_DEFAULTS
        if request.method == "POST":
            values = {name: request.POST.get(name, value) for name, value in defaults.items()}
        elif obj is not None:
            values = {name: getattr(obj, name) for name in defaults}
        else:
            initial = self.get_changeform_initial_data(request)
            values = {name: initial.get(name, value) for name, value in defaults.items()}
        baselines = ledger_baselines()
        return {
            "plan": plan_preview(**values),
            "baselines": [
                {
                    "kind": label,
                    "outcomes": [
                        (spec.label, baselines[(kind, spec.name)]) for spec in plan.OUTCOMES
                    ],
                }
                for kind, label in Experiment._meta.get_field("kind").choices
            ],
            "min_baseline_sample": plan.MIN_BASELINE_SAMPLE,
        }

    def save_model(self, request, obj, form, change) -> None:
        # Through the service: a new share or plan is a new experiment, never an edit.
        before = obj.pk
        new = experiment_set_share(
            kind=obj.kind,
            percent=obj.holdout_percent,
            primary_outcome=obj.primary_outcome,
            baseline_percent=obj.baseline_percent,
            min_lift_points=obj.min_lift_points,
        )
        if new is None:
            message = "hold-out turned off; the running experiment ended."
        elif new.pk == before:
            message = "nothing changed; the experiment runs on."
        else:
            obj.pk = new.pk
            message = (
                f"a new experiment holds out {new.holdout_percent}% from now, planned for "
                f"{new.planned_learners:,} learners."
            )
        messages.info(request, f"{obj.get_kind_display()}: {message}")

    @admin.display(description="runs", ordering="started_at")
    def runs(self, obj: Experiment) -> str:
        end = f"to {obj.ended_at:%Y-%m-%d}" if obj.ended_at else "(running)"
        return f"{obj.started_at:%Y-%m-%d} {end}"

    @admin.display(description="report")
    def report_link(self, obj: Experiment):
        return format_html(
            '<a href="{}">Report</a>', reverse("admin:nudges_experiment_report", args=[obj.pk])
        )

    def get_urls(self):
        report = self.admin_site.admin_view(self.report_view)
        plan_view = self.admin_site.admin_view(self.plan_view)
        return [
            path("<int:pk>/report/", report, name="nudges_experiment_report"),
            path("plan/", plan_view, name="nudges_experiment_plan"),
            *super().get_urls(),
        ]

    def plan_view(self, request):
        """The plan of the numbers given (the form's fields, in the query string), as the
        form shows it: the form redraws it while the instructor types."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        values = {name: request.GET.get(name, value) for name, value in PLAN_DEFAULTS.items()}
        return TemplateResponse(
            request, "admin/nudges/experiment/plan.html", {"plan": plan_preview(**values)}
        )

    def report_view(self, request, pk: int):
        experiment = get_object_or_404(Experiment, pk=pk)
        if not self.has_view_permission(request, experiment):
            raise PermissionDenied
        report = experiment_report_keep(experiment=experiment)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Report: {experiment}",
            **report_context(report),
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
