"""Cohorts in the admin, each linking to its learners."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html

from curriculum.selectors import curriculum_rules

from ..models import (
    Cohort,
)
from ..selectors import cohort_members
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

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The members, their levels and progress, below the cohort's name and start date.
        extra_context = dict(extra_context or {})
        cohort = self.get_object(request, object_id)
        if cohort is not None:
            extra_context["members"] = cohort_members(cohort.pk)
            extra_context["members_url"] = learner_list_url(cohort__id__exact=cohort.pk)
            extra_context["module_count"] = len(curriculum_rules().module_titles) or 9
        return super().change_view(request, object_id, form_url, extra_context)
