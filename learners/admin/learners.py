"""The learner admin: the bounded list, progress inlines saved through the services, actions."""

from __future__ import annotations

from functools import partial

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html

from curriculum.selectors import curriculum_rules

from .. import assessment
from ..models import (
    CompletionSource,
    KeyCompletion,
    Learner,
    ModuleProgress,
    account_change_allowed,
)
from ..nudges.api import (
    NudgeKind,
    NudgeStatus,
    last_nudge_by_learner,
    learners_opted_out_themselves,
)
from ..privacy.admin import erase_accounts, export_personal_data
from ..selectors import (
    learner_list_figures,
    learner_placement,
)
from ..services import key_set_done, learner_set_assessment, module_set_done
from .actions import (
    export_roster_csv,
    recompute_levels,
    roster_csv_response,
    send_next_step_nudge,
)
from .filters import (
    CompletedModuleFilter,
    InactivityFilter,
    JoinedFilter,
    LevelChangedFilter,
    LevelFilter,
    NudgedFilter,
    OptOutFilter,
    ProgressFilter,
    StuckPointFilter,
)
from .inlines import (
    KeyCompletionInline,
    LevelChangeInline,
    ModuleProgressInline,
    NudgeInline,
    reasons_list,
)
from .roster_import import roster_import_status_view, roster_import_view


def in_words(choices, value: str) -> str:
    """A stored choice as people read it ("held_out" -> "Held out"), the short form of a
    long label ("Sending (interrupted if it stays here)" -> "Sending")."""
    if value in choices.values:
        return str(choices(value).label).split(" (")[0]
    return value.replace("_", " ")


class WindowedCountPaginator(Paginator):
    """Counts matching rows only up to ``limit``, so a page load never counts the table.

    The limit is a window of pages past the one shown (see ``LearnerAdmin.get_paginator``);
    ``capped`` says there are more rows than counted.
    """

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True, *, limit):
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        self.limit = limit
        self.capped = False

    @cached_property
    def count(self) -> int:
        counted = self.object_list.order_by().values("pk")[: self.limit + 1].count()
        self.capped = counted > self.limit
        return min(counted, self.limit)


PAGES_AHEAD = 10
MAX_PAGE = 1_000_000


class LearnerChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        # Two more queries for the page's progress and last nudge, whatever the page size.
        learners = list(self.result_list)
        ids = [learner.pk for learner in learners]
        figures, last_nudges = learner_list_figures(ids), last_nudge_by_learner(ids)
        for learner in learners:
            learner.list_figures = figures.get(learner.pk)
            learner.latest_nudge = last_nudges.get(learner.pk)


# --- Learner admin ----------------------------------------------------------------------


# What the learner form writes besides the self-assessment (which has its own write path).
ADMIN_ONLY_FIELDS = ("cohort", "timezone", "nudges_enabled")


class LearnerAdminForm(forms.ModelForm):
    assessment_submitted = forms.BooleanField(
        required=False,
        label="Self-assessment submitted",
        help_text="Untick to clear the answers: the learner is placed at level 1 until they "
        "fill it in.",
    )

    class Meta:
        model = Learner
        fields = ("user", "track", "cohort", "timezone", "nudges_enabled", *assessment.FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assessment_submitted"].initial = (
            self.instance.assessment_submitted_at is not None
        )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data.get("assessment_submitted"):
            track = data.get("track")
            for name, message in assessment.assessment_errors(
                track.slug if track else None, data, track_name=track.name if track else ""
            ).items():
                self.add_error(name if name in self.fields else None, message)
        return data

    def answers(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in assessment.FIELDS}


@admin.register(Learner)
class LearnerAdmin(admin.ModelAdmin):
    form = LearnerAdminForm
    list_display = (
        "name",
        "email",
        "track_slug",
        "level_label",
        "keys_done",
        "modules_done",
        "last_active",
        "last_nudge",
        "opted_out",
    )
    list_display_links = ("name", "email")
    list_select_related = ("user", "track")
    list_filter = (
        "track",
        LevelFilter,
        "cohort",
        InactivityFilter,
        OptOutFilter,
        LevelChangedFilter,
        NudgedFilter,
        CompletedModuleFilter,
        ProgressFilter,
        StuckPointFilter,
        JoinedFilter,
    )
    search_fields = ("user__email", "user__first_name", "user__last_name")
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = WindowedCountPaginator
    inlines = [ModuleProgressInline, KeyCompletionInline, LevelChangeInline, NudgeInline]
    actions = [recompute_levels, export_roster_csv]
    readonly_fields = (
        "placement",
        "level",
        "level_changed_at",
        "last_activity_at",
        "assessment_submitted_at",
        "created_at",
    )
    fieldsets = (
        (None, {"fields": ("user", "track", "cohort", "timezone", "nudges_enabled")}),
        ("Placement", {"fields": ("placement", "level", "level_changed_at")}),
        (
            "Self-assessment",
            {"fields": ("assessment_submitted", "assessment_submitted_at", *assessment.FIELDS)},
        ),
        ("Activity", {"fields": ("last_activity_at", "created_at")}),
    )
    raw_id_fields = ("user",)

    # The list ------------------------------------------------------------------------

    def get_changelist(self, request, **kwargs):
        return LearnerChangeList

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        try:
            # Clamped: a hostile p=10**30 would ask the database for an out-of-range LIMIT.
            page = min(max(int(request.GET.get("p", 1)), 1), MAX_PAGE)
        except ValueError:
            page = 1
        return self.paginator(
            queryset,
            per_page,
            orphans,
            allow_empty_first_page,
            limit=per_page * (page + PAGES_AHEAD),
        )

    @admin.display(description="name", ordering="user__last_name")
    def name(self, obj: Learner) -> str:
        return obj.user.get_full_name() or "-"

    @admin.display(description="email", ordering="user__email")
    def email(self, obj: Learner) -> str:
        return obj.user.email

    @admin.display(description="track", ordering="track__slug")
    def track_slug(self, obj: Learner) -> str:
        return obj.track.slug if obj.track_id else "-"

    @admin.display(description="last active", ordering="last_activity_at")
    def last_active(self, obj: Learner) -> str:
        if obj.last_activity_at is None:
            return "never"
        return timezone.localtime(obj.last_activity_at).strftime("%Y-%m-%d")

    @admin.display(description="level", ordering="level")
    def level_label(self, obj: Learner) -> str:
        return f"{obj.level} {curriculum_rules().level_name(obj.level)}"

    @admin.display(description="keys")
    def keys_done(self, obj: Learner) -> int:
        return obj.list_figures.keys_done

    @admin.display(description="modules")
    def modules_done(self, obj: Learner) -> str:
        return f"{obj.list_figures.modules_done}/{len(curriculum_rules().module_titles) or 9}"

    @admin.display(description="last nudge")
    def last_nudge(self, obj: Learner):
        nudge = obj.latest_nudge
        if nudge is None:
            return "-"
        when = timezone.localtime(nudge.created_at)
        return format_html(
            '<span title="{}">{} ({}), {}</span>',
            when.strftime("%Y-%m-%d %H:%M"),
            in_words(NudgeKind, nudge.kind).lower(),
            in_words(NudgeStatus, nudge.status).lower(),
            when.strftime("%b %d"),
        )

    @admin.display(description="opted out", ordering="nudges_enabled")
    def opted_out(self, obj: Learner) -> str:
        # Text, not the admin's red/green icons: a red cross on every row reads as an alarm.
        return "" if obj.nudges_enabled else "opted out"

    # The change form -----------------------------------------------------------------

    def has_change_permission(self, request, obj=None) -> bool:
        # A staff member's or site admin's profile: the same rule as the roster and the API.
        if obj is not None and not account_change_allowed(account=obj.user, actor=request.user):
            return False
        return super().has_change_permission(request, obj)

    def get_fieldsets(self, request, obj=None):
        # Only the questions of the learner's track (a new learner or one without a track:
        # every question). Changing the track shows the new track's questions once saved.
        if obj is None or obj.track_id is None:
            return self.fieldsets
        others = set(assessment.FIELDS) - {
            question.name for question in assessment.questions_of(obj.track.slug)
        }
        fieldsets = []
        for name, options in self.fieldsets:
            fields = tuple(field for field in options["fields"] if field not in others)
            if name == "Self-assessment":
                name = f"Self-assessment ({obj.track.name} track)"
                options = {
                    **options,
                    "description": "The questions of the learner's track; after a change of "
                    "track, the new track's questions appear once it is saved.",
                }
            fieldsets.append((name, {**options, "fields": fields}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if obj is None:
            return readonly
        if obj.pk in learners_opted_out_themselves([obj.pk]):
            # Only the learner turns nudges back on once they turned them all off.
            return (*readonly, "user", "nudges_enabled")
        return (*readonly, "user")

    @admin.display(description="why this level")
    def placement(self, obj: Learner):
        if obj.pk is None:
            return "-"
        result = learner_placement(obj)
        return format_html(
            "<strong>{}</strong>{}",
            f"{result.level} {result.level_name}",
            reasons_list(result.reasons),
        )

    def save_model(self, request, obj, form, change) -> None:
        # The answers go through the one write path (it clears the other track's answers,
        # stamps the submission, recomputes the level and bumps the page version). The row is
        # otherwise written field by field: saving the copy read at the start of the request
        # would put back a level or version that a tick changed in the meantime.
        if change:
            fields = [name for name in ADMIN_ONLY_FIELDS if name in form.changed_data]
            if fields:
                obj.save(update_fields=fields)
        else:
            super().save_model(request, obj, form, change)
        learner_set_assessment(
            learner=obj,
            track=obj.track,
            answers=form.answers(),
            submitted=bool(form.cleaned_data.get("assessment_submitted")),
        )
        obj.refresh_from_db()

    def save_formset(self, request, form, formset, change) -> None:
        setters = {
            ModuleProgress: ("module", module_set_done),
            KeyCompletion: ("key", key_set_done),
        }
        if formset.model not in setters:
            return super().save_formset(request, form, formset, change)
        name, set_done = setters[formset.model]
        formset.save(commit=False)
        for row in formset.deleted_objects:
            set_done(learner=form.instance, done=False, **{name: getattr(row, name)})
        for row in formset.new_objects:
            set_done(
                learner=form.instance,
                done=True,
                source=CompletionSource.INSTRUCTOR,
                recorded_by=request.user,
                **{name: getattr(row, name)},
            )
        return None

    # Actions -------------------------------------------------------------------------

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self.has_change_permission(request):
            actions["send_next_step_nudge"] = self.get_action(send_next_step_nudge)
        if self.has_view_permission(request):
            actions["export_personal_data"] = self.get_action(export_personal_data)
        if request.user.is_superuser:
            actions["erase_accounts"] = self.get_action(erase_accounts)
        return actions

    # Roster import -------------------------------------------------------------------

    def export_view(self, request) -> HttpResponse:
        """The roster CSV of the list as filtered and searched (the list's own query string)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        queryset = changelist.get_queryset(request)
        return roster_csv_response(queryset)

    def get_urls(self):
        return [
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name="learners_learner_export",
            ),
            path(
                "import/",
                self.admin_site.admin_view(partial(roster_import_view, self)),
                name="learners_learner_import",
            ),
            path(
                "import/<int:roster_import_id>/",
                self.admin_site.admin_view(partial(roster_import_status_view, self)),
                name="learners_learner_import_status",
            ),
            *super().get_urls(),
        ]
