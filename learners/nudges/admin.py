"""The nudge ledger in the admin, read-only."""

from __future__ import annotations

from django.contrib import admin

from .models import Nudge


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
