"""Cohorts in the admin, each linking to its learners."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html

from ..models import (
    Cohort,
)
from .filters import learner_list_url


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
