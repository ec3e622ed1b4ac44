"""The learner's inlines: progress (saved through the services), level history, nudges."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from curriculum.models import Key

from ..explanation import about_the_learner
from ..models import KeyCompletion, LevelChange, ModuleProgress
from ..nudges.api import Nudge


def reasons_list(lines) -> str:
    """The placement's reasons as an HTML list (escaped), said about the learner (they are
    written to the student)."""
    return format_html(
        "<ul>{}</ul>",
        format_html_join("", "<li>{}</li>", ((about_the_learner(line),) for line in lines)),
    )


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
        return reasons_list(obj.reasons)


class NudgeInline(ReadOnlyInline):
    model = Nudge
    fields = ("created_at", "kind", "status", "attempts", "sent_at", "last_error")
