"""Level history in the admin, read-only."""

from __future__ import annotations

from django.contrib import admin

from ..models import (
    LevelChange,
)


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
