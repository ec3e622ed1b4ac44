"""The instructors' admin: users, cohorts, learners (list, progress, actions), roster import,
the dashboard, and admin login through allauth."""

from __future__ import annotations

import math
from datetime import timedelta
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html

from .models import (
    Cohort,
    CompletionSource,
    KeyCompletion,
    Learner,
    LevelChange,
    ModuleProgress,
    Nudge,
    NudgeKind,
    NudgeStatus,
    User,
)
from .selectors import (
    INACTIVE_DAYS,
    LEVEL_CHANGE_DAYS,
    NUDGE_DAYS,
    PROFILE_FIELDS,
    curriculum_rules,
    dashboard_figures,
    inactive_since_q,
    learner_list_figures,
    learner_placement,
)
from .services import assessment_errors, key_set_done, learner_recompute_level, module_set_done

# --- Users ------------------------------------------------------------------------------


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "first_name", "last_name")

    def clean_email(self) -> str:
        return User.objects.normalize_email(self.cleaned_data["email"]).lower()


class UserChangeForm(DjangoUserChangeForm):
    class Meta:
        model = User
        fields = (
            "email",
            "password",
            "first_name",
            "last_name",
            "is_active",
            "is_staff",
            "is_superuser",
            "groups",
            "user_permissions",
            "last_login",
            "date_joined",
        )


PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Email is the login. Only superusers grant privileges; instructors manage students."""

    form = UserChangeForm
    add_form = UserCreationForm
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "is_staff", "is_active", "last_login")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("email", "first_name", "last_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "email",
                    "first_name",
                    "last_name",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser or obj is None:
            return fieldsets
        return tuple(
            (
                name,
                {**opts, "fields": tuple(f for f in opts["fields"] if f not in PRIVILEGE_FIELDS)},
            )
            for name, opts in fieldsets
        )

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return readonly
        if obj is not None and obj.pk != request.user.pk:
            readonly = (*readonly, "email")
        return (*readonly, *PRIVILEGE_FIELDS, "last_login", "date_joined")

    def get_list_filter(self, request):
        if request.user.is_superuser:
            return self.list_filter
        return ("is_active",)

    def has_change_permission(self, request, obj=None) -> bool:
        # An instructor could otherwise reset a site admin's password and become one.
        if obj is not None and not request.user.is_superuser:
            if (obj.is_staff or obj.is_superuser) and obj.pk != request.user.pk:
                return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def user_change_password(self, request, id, form_url=""):
        # Setting someone else's password (or their login address, below) would let an
        # instructor sign in as that student; students set theirs by password reset.
        if not request.user.is_superuser and str(request.user.pk) != str(id):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)


# --- Cohorts ----------------------------------------------------------------------------


def learner_list_url(**params) -> str:
    """The learner changelist filtered by ``params`` (the admin's own query parameters)."""
    url = reverse("admin:learners_learner_changelist")
    return f"{url}?{urlencode(params)}" if params else url


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):
    list_display = ("name", "start_date", "learner_count")
    search_fields = ("name",)
    date_hierarchy = "start_date"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(learner_count=Count("learners"))

    @admin.display(description="learners", ordering="learner_count")
    def learner_count(self, obj: Cohort):
        return format_html(
            '<a href="{}">{}</a>', learner_list_url(cohort__id__exact=obj.pk), obj.learner_count
        )


# --- Learner list filters ---------------------------------------------------------------


class LevelFilter(admin.SimpleListFilter):
    title = "level"
    parameter_name = "level"

    def lookups(self, request, model_admin):
        return [(str(n), f"{n} {name}") for n, name in curriculum_rules().level_names.items()]

    def queryset(self, request, queryset):
        if self.value() and self.value().isdigit():
            return queryset.filter(level=int(self.value()))
        return queryset


class StageFilter(admin.SimpleListFilter):
    """The stage that serves the learner's level: the modules they are working on."""

    title = "stage"
    parameter_name = "stage"

    def lookups(self, request, model_admin):
        return [
            (str(stage.serves_level), f"{stage.name} (level {stage.serves_level})")
            for stage in curriculum_rules().stages
        ]

    def queryset(self, request, queryset):
        if self.value() and self.value().isdigit():
            return queryset.filter(level=int(self.value()))
        return queryset


class CompletedModuleFilter(admin.SimpleListFilter):
    title = "completed module"
    parameter_name = "module"

    def lookups(self, request, model_admin):
        return [(str(n), f"{n} {title}") for n, title in curriculum_rules().module_titles.items()]

    def queryset(self, request, queryset):
        if self.value() and self.value().isdigit():
            done = ModuleProgress.objects.filter(module__number=int(self.value()))
            return queryset.filter(pk__in=done.values("learner_id"))
        return queryset


class InactivityFilter(admin.SimpleListFilter):
    title = "activity"
    parameter_name = "inactive"

    def lookups(self, request, model_admin):
        return [
            (str(INACTIVE_DAYS), f"Inactive {INACTIVE_DAYS}+ days"),
            ("30", "Inactive 30+ days"),
        ]

    def queryset(self, request, queryset):
        if self.value() and self.value().isdigit():
            cutoff = timezone.now() - timedelta(days=int(self.value()))
            return queryset.filter(inactive_since_q(cutoff))
        return queryset


class OptOutFilter(admin.SimpleListFilter):
    title = "nudge emails"
    parameter_name = "opted_out"

    def lookups(self, request, model_admin):
        return [("yes", "Opted out"), ("no", "Receiving")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(nudges_enabled=self.value() == "no")
        return queryset


class LevelChangedFilter(admin.SimpleListFilter):
    title = "level changed"
    parameter_name = "level_changed"

    def lookups(self, request, model_admin):
        return [
            (f"{LEVEL_CHANGE_DAYS}", f"In the last {LEVEL_CHANGE_DAYS} days"),
            (f"{LEVEL_CHANGE_DAYS}.up", f"Went up, last {LEVEL_CHANGE_DAYS} days"),
            (f"{LEVEL_CHANGE_DAYS}.down", f"Went down, last {LEVEL_CHANGE_DAYS} days"),
        ]

    def queryset(self, request, queryset):
        days, _, direction = (self.value() or "").partition(".")
        if not days.isdigit():
            return queryset
        changes = LevelChange.objects.filter(
            changed_at__gte=timezone.now() - timedelta(days=int(days))
        )
        if direction == "up":
            changes = changes.exclude(to_level__lte=F("from_level"))
        elif direction == "down":
            changes = changes.filter(to_level__lt=F("from_level"))
        return queryset.filter(pk__in=changes.values("learner_id"))


class NudgedFilter(admin.SimpleListFilter):
    """Learners nudged in the last days; the value is a kind, or ``kind.status``."""

    title = f"nudged (last {NUDGE_DAYS} days)"
    parameter_name = "nudged"

    def lookups(self, request, model_admin):
        return list(NudgeKind.choices)

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        kind, _, status = self.value().partition(".")
        nudges = Nudge.objects.filter(
            kind=kind, created_at__gte=timezone.now() - timedelta(days=NUDGE_DAYS)
        )
        if status:
            nudges = nudges.filter(status=status)
        return queryset.filter(pk__in=nudges.values("learner_id"))


# --- Learner list: bounded counting -----------------------------------------------------


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


class LearnerChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        # One more query for the page's progress and last nudge, whatever the page size.
        learners = list(self.result_list)
        figures = learner_list_figures([learner.pk for learner in learners])
        for learner in learners:
            learner.list_figures = figures.get(learner.pk)


# --- Learner inlines --------------------------------------------------------------------


class ModuleProgressInline(admin.TabularInline):
    """Instructors add and remove completions; saved through the progress services."""

    model = ModuleProgress
    fields = ("module", "completed_at", "source", "recorded_by")
    readonly_fields = ("completed_at", "source", "recorded_by")
    extra = 0
    verbose_name = "completed module"
    verbose_name_plural = "completed modules"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("module", "recorded_by")

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class KeyCompletionInline(admin.TabularInline):
    model = KeyCompletion
    fields = ("key", "completed_at", "source", "recorded_by")
    readonly_fields = ("completed_at", "source", "recorded_by")
    extra = 0
    verbose_name = "ticked key"
    verbose_name_plural = "ticked keys (module-linked keys follow their modules)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("key", "recorded_by")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        field = formset.form.base_fields.get("key")
        if field is not None:
            from curriculum.models import Key

            # Only keys a learner can tick: their track's, and not module-linked.
            field.queryset = Key.objects.filter(
                track_id=getattr(obj, "track_id", None), modules__isnull=True
            ).select_related("level")
        return formset

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class LevelChangeInline(ReadOnlyInline):
    model = LevelChange
    fields = ("changed_at", "from_level", "to_level", "why")
    readonly_fields = ("why",)
    verbose_name_plural = "level history"

    @admin.display(description="reasons at that time")
    def why(self, obj: LevelChange):
        return format_html("<ul>{}</ul>", format_html_join_lines(obj.reasons))


class NudgeInline(ReadOnlyInline):
    model = Nudge
    fields = ("created_at", "kind", "status", "attempts", "sent_at", "last_error")


# --- Learner admin ----------------------------------------------------------------------


class LearnerAdminForm(forms.ModelForm):
    assessment_submitted = forms.BooleanField(
        required=False,
        label="Self-assessment submitted",
        help_text="Untick to clear the answers: the learner is placed at level 1 until they "
        "fill it in.",
    )

    class Meta:
        model = Learner
        fields = ("user", "track", "cohort", "timezone", "nudges_enabled", *PROFILE_FIELDS)

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
            for name, message in assessment_errors(data.get("track"), data).items():
                self.add_error(name if name in self.fields else None, message)
        else:
            for name in PROFILE_FIELDS:
                data[name] = "" if name == "seen_as" else None
        return data


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
        StageFilter,
        "cohort",
        InactivityFilter,
        OptOutFilter,
        LevelChangedFilter,
        NudgedFilter,
        CompletedModuleFilter,
    )
    search_fields = ("user__email", "user__first_name", "user__last_name")
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = WindowedCountPaginator
    inlines = [ModuleProgressInline, KeyCompletionInline, LevelChangeInline, NudgeInline]
    actions = ["recompute_levels", "export_roster_csv"]
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
            {"fields": ("assessment_submitted", "assessment_submitted_at", *PROFILE_FIELDS)},
        ),
        ("Activity", {"fields": ("last_activity_at", "created_at")}),
    )
    raw_id_fields = ("user",)

    # The list ------------------------------------------------------------------------

    def get_changelist(self, request, **kwargs):
        return LearnerChangeList

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        try:
            page = max(int(request.GET.get("p", 1)), 1)
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
        figures = obj.list_figures
        if figures.last_nudge_at is None:
            return "-"
        when = timezone.localtime(figures.last_nudge_at)
        return format_html(
            '<span title="{}">{} ({}), {}</span>',
            when.strftime("%Y-%m-%d %H:%M"),
            figures.last_nudge_kind.replace("_", " "),
            figures.last_nudge_status,
            when.strftime("%b %d"),
        )

    @admin.display(description="opted out", ordering="nudges_enabled")
    def opted_out(self, obj: Learner) -> str:
        # Text, not the admin's red/green icons: a red cross on every row reads as an alarm.
        return "" if obj.nudges_enabled else "opted out"

    # The change form -----------------------------------------------------------------

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        return (*readonly, "user") if obj is not None else readonly

    @admin.display(description="why this level")
    def placement(self, obj: Learner):
        if obj.pk is None:
            return "-"
        result = learner_placement(obj)
        return format_html(
            "<strong>{}</strong><ul>{}</ul>",
            f"{result.level} {result.level_name}",
            format_html_join_lines(result.reasons),
        )

    def save_model(self, request, obj, form, change) -> None:
        submitted = form.cleaned_data.get("assessment_submitted")
        if not submitted:
            obj.assessment_submitted_at = None
        elif obj.assessment_submitted_at is None:
            obj.assessment_submitted_at = timezone.now()
        super().save_model(request, obj, form, change)
        learner_recompute_level(learner=obj)

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
        if self.has_change_permission(request) and _nudge_send_now() is not None:
            actions["send_next_step_nudge"] = self.get_action("send_next_step_nudge")
        return actions

    @admin.action(
        description="Recompute the level of the selected learners", permissions=["change"]
    )
    def recompute_levels(self, request, queryset) -> None:
        from .tasks import recompute_learners_task

        ids = list(queryset.values_list("pk", flat=True))
        recompute_learners_task.delay_on_commit(learner_ids=ids)
        self.message_user(
            request,
            f"Recomputing the levels of {len(ids)} learner{'s' if len(ids) != 1 else ''} "
            "in the background.",
            messages.SUCCESS,
        )

    @admin.action(description="Export the selected learners as roster CSV", permissions=["view"])
    def export_roster_csv(self, request, queryset) -> HttpResponse:
        from .roster import roster_export

        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="learners-{stamp}.csv"'
        roster_export(Learner.objects.filter(pk__in=queryset.values("pk")), response)
        return response

    @admin.action(description="Send a next-step nudge now", permissions=["change"])
    def send_next_step_nudge(self, request, queryset) -> None:
        send_now = _nudge_send_now()
        ids = list(queryset.values_list("pk", flat=True))
        sent = send_now(learner_ids=ids)
        skipped = len(ids) - sent
        self.message_user(
            request,
            f"Next-step nudge queued for {sent} learner{'s' if sent != 1 else ''}"
            + (f"; {skipped} skipped (opted out, unverified or no track)." if skipped else "."),
            messages.SUCCESS if sent else messages.WARNING,
        )

    # Roster import -------------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="learners_learner_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest):
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        from .roster import roster_import

        form = RosterUploadForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            content = form.roster_text()
            confirm = "confirm" in request.POST
            report = roster_import(content, dry_run=not confirm, recorded_by=request.user)
            if confirm and report.ok:
                self.message_user(
                    request,
                    f"Roster imported: {report.rows} rows, {report.created} learners created, "
                    f"{report.updated} updated, {report.unchanged} unchanged; "
                    f"{report.levels_changed} levels changed.",
                    messages.SUCCESS,
                )
                return redirect("admin:learners_learner_changelist")
            if confirm:
                self.message_user(
                    request, "Nothing was imported: the file has errors.", messages.ERROR
                )
            form = RosterUploadForm(initial={"content": content})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import a roster",
            "form": form,
            "report": report,
            "content": form.initial.get("content", ""),
        }
        return TemplateResponse(request, "admin/learners/learner/import.html", context)


class RosterUploadForm(forms.Form):
    file = forms.FileField(required=False, label="Roster CSV")
    # The previewed file, sent back on confirmation so that exactly it is imported.
    content = forms.CharField(required=False, widget=forms.HiddenInput)

    MAX_BYTES = 5 * 1024 * 1024
    # The confirmation posts the file's text back (with the CSRF token and the button).
    CONFIRM_MARGIN = 16 * 1024

    @classmethod
    def max_bytes(cls) -> int:
        """The largest file the page imports: its text comes back as a form field on
        confirmation, and Django refuses form fields larger in all than
        DATA_UPLOAD_MAX_MEMORY_SIZE with a bare 400."""
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is None:
            return cls.MAX_BYTES
        return min(cls.MAX_BYTES, limit - cls.CONFIRM_MARGIN)

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload is None and not data.get("content"):
            raise forms.ValidationError("Choose a CSV file.")
        if upload is not None:
            too_large = forms.ValidationError(
                f"The file is larger than {self.max_bytes() / (1024 * 1024):.1f} MB, the most "
                "this page imports: split it, or import it with the import_learners command."
            )
            if upload.size > self.max_bytes():
                raise too_large
            try:
                content = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise forms.ValidationError("The file is not UTF-8 text.") from exc
            # A browser posts line breaks as CRLF: count what the confirmation will send.
            posted = len(content.encode()) + content.count("\n") + content.count("\r")
            if posted > self.max_bytes():
                raise too_large
            data["content"] = content
        return data

    def roster_text(self) -> str:
        return self.cleaned_data["content"]


def _nudge_send_now():
    """``nudge_send_now`` when the nudges package provides it (None otherwise)."""
    try:
        from .nudges.services import nudge_send_now
    except ImportError:
        return None
    return nudge_send_now


def format_html_join_lines(lines) -> str:
    from django.utils.html import format_html_join

    return format_html_join("", "<li>{}</li>", ((line,) for line in lines))


@admin.register(LevelChange)
class LevelChangeAdmin(admin.ModelAdmin):
    list_display = ("changed_at", "learner", "from_level", "to_level")
    list_select_related = ("learner__user",)
    list_filter = ("to_level",)
    search_fields = ("learner__user__email",)
    date_hierarchy = "changed_at"
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Nudge)
class NudgeAdmin(admin.ModelAdmin):
    """The nudge ledger, read-only: instructors see what went out, failed or was interrupted."""

    list_display = ("created_at", "learner", "kind", "status", "attempts", "sent_at", "last_error")
    list_select_related = ("learner__user",)
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


# --- Dashboard and login ----------------------------------------------------------------


def dashboard_view(request: HttpRequest) -> TemplateResponse:
    """Instructors' dashboard: the figures, each linking to the learner list it counts."""
    if not request.user.has_perm("learners.view_learner"):
        raise PermissionDenied
    figures = dashboard_figures()
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
    counts = {(nudge.kind, nudge.status): nudge.count for nudge in figures.nudges}
    nudge_statuses = [{"value": status.value, "label": status.label} for status in NudgeStatus]
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
        "all_url": learner_list_url(),
        "inactive_url": learner_list_url(inactive=figures.inactive_days),
    }
    return TemplateResponse(request, "admin/dashboard.html", context)


def admin_login(request: HttpRequest, extra_context=None):
    """The admin signs in through allauth, so allauth's rate limits apply to it too."""
    if request.user.is_authenticated:
        if admin.site.has_permission(request):
            return redirect(request.GET.get("next") or reverse("admin:index"))
        # Signed in but not staff: the admin is not for them (and no redirect loop).
        raise PermissionDenied
    return redirect_to_login(
        request.GET.get("next") or reverse("admin:index"), login_url=reverse("account_login")
    )


admin.site.login = admin_login
admin.site.site_header = "Profit Pyramid: instructors"
admin.site.site_title = "Profit Pyramid admin"
admin.site.index_title = "Curriculum and learners"
