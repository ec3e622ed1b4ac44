"""The curriculum in the admin; edits that change placement recompute learners."""

from __future__ import annotations

from django.contrib import admin, messages

from .models import (
    Key,
    Level,
    Module,
    SelfAssessmentQuestion,
    Stage,
    SuccessMetric,
    Symptom,
    Track,
    TrackLevel,
)
from .signals import placement_rules_changed


def _recompute_later(request, modeladmin, *, track_ids=(), everyone=False) -> None:
    """Have the learners of the changed tracks recomputed once the edit is committed (by
    whoever listens to ``placement_rules_changed``), and tell the instructor."""
    track_ids = sorted({pk for pk in track_ids if pk is not None})
    if not everyone and not track_ids:
        return
    responses = placement_rules_changed.send(
        sender=modeladmin.model, track_ids=track_ids, everyone=everyone
    )
    if not responses:
        return
    count = sum(affected for _, affected in responses)
    if everyone:
        scope = "every learner"
    else:
        names = ", ".join(Track.objects.filter(pk__in=track_ids).values_list("name", flat=True))
        scope = f"the learners of {names}"
    modeladmin.message_user(
        request,
        f"This change affects placement: recomputing the levels of {scope} "
        f"({count} learner{'s' if count != 1 else ''}) in the background.",
        messages.INFO,
    )


class BandInline(admin.TabularInline):
    model = TrackLevel
    fields = (
        "level",
        "min_amount",
        "max_amount",
        "heading_range",
        "self_assessment_summary",
        "headline",
    )
    extra = 0
    min_num = 0
    ordering = ("level__number",)

    def has_delete_permission(self, request, obj=None) -> bool:
        # A track needs all four bands; removing one would leave a hole in the pyramid.
        return False


BAND_FIELDS = {"level", "min_amount", "max_amount"}


@admin.register(Track)
class TrackAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "currency_metric", "graduation_threshold", "order")
    fields = ("name", "slug", "currency_metric", "graduation_threshold", "order")
    inlines = [BandInline]

    def get_readonly_fields(self, request, obj=None):
        # The slug names the track in key codes and roster files.
        return ("slug",) if obj is not None else ()

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        bands_changed = any(
            formset.model is TrackLevel
            and (
                formset.new_objects
                or formset.deleted_objects
                or any(set(fields) & BAND_FIELDS for _, fields in formset.changed_objects)
            )
            for formset in formsets
        )
        if change and ("graduation_threshold" in form.changed_data or bands_changed):
            _recompute_later(request, self, track_ids=[form.instance.pk])


@admin.register(Level)
class LevelAdmin(admin.ModelAdmin):
    list_display = ("number", "name", "description")
    fieldsets = (
        (None, {"fields": ("number", "name", "description")}),
        (
            "Targeting",
            {
                "fields": ("headline_a", "headline_b", "pain", "promise", "offer"),
                "description": "The document's two headlines of this level, one per track. "
                "Emails use each track's own headline: edit it on the track's bands.",
            },
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        # The number is the level everywhere (placement, history, nudges): fixed once made.
        return ("number",) if obj is not None else ()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ModuleInline(admin.TabularInline):
    model = Module
    fields = ("number", "title")
    extra = 0
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ("order", "name", "serves_level", "summary")
    list_display_links = ("name",)
    list_select_related = ("serves_level",)
    fields = ("name", "order", "summary", "serves_level", "description")
    inlines = [ModuleInline]

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        if change and "serves_level" in form.changed_data:
            _recompute_later(request, self, everyone=True)


@admin.register(Module)
class ModuleAdmin(admin.ModelAdmin):
    list_display = ("number", "title", "stage", "course_url")
    list_display_links = ("title",)
    list_filter = ("stage",)
    list_select_related = ("stage",)
    fields = ("number", "title", "stage", "course_url")

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        if change and "stage" in form.changed_data:
            _recompute_later(request, self, everyone=True)

    def delete_model(self, request, obj) -> None:
        super().delete_model(request, obj)
        _recompute_later(request, self, everyone=True)

    def delete_queryset(self, request, queryset) -> None:
        super().delete_queryset(request, queryset)
        _recompute_later(request, self, everyone=True)


@admin.register(Key)
class KeyAdmin(admin.ModelAdmin):
    list_display = ("code", "track", "level", "order", "verb", "text", "linked_modules")
    list_display_links = ("code",)
    list_filter = ("track", "level")
    list_select_related = ("track", "level")
    search_fields = ("code", "verb", "text")
    ordering = ("track", "level__number", "order")
    fields = ("track", "level", "order", "code", "verb", "text", "modules")
    filter_horizontal = ("modules",)
    list_per_page = 100

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("modules")

    @admin.display(description="modules")
    def linked_modules(self, obj: Key) -> str:
        return ", ".join(str(module.number) for module in obj.modules.all()) or "-"

    def save_model(self, request, obj, form, change) -> None:
        # The track the key left also has to be recomputed.
        obj._previous_track_id = (
            Key.objects.filter(pk=obj.pk).values_list("track_id", flat=True).first()
            if change
            else None
        )
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        # Key.modules is saved here, after save_model: only now is the edit complete.
        super().save_related(request, form, formsets, change)
        if not change or {"track", "level", "modules"} & set(form.changed_data):
            _recompute_later(
                request,
                self,
                track_ids=[
                    form.instance.track_id,
                    getattr(form.instance, "_previous_track_id", None),
                ],
            )

    def delete_model(self, request, obj) -> None:
        track_id = obj.track_id
        super().delete_model(request, obj)
        _recompute_later(request, self, track_ids=[track_id])

    def delete_queryset(self, request, queryset) -> None:
        track_ids = list(queryset.values_list("track_id", flat=True).distinct())
        super().delete_queryset(request, queryset)
        _recompute_later(request, self, track_ids=track_ids)


@admin.register(Symptom)
class SymptomAdmin(admin.ModelAdmin):
    list_display = ("track", "level", "order", "depth", "text")
    list_display_links = ("text",)
    list_filter = ("track", "level")
    list_select_related = ("track", "level")
    search_fields = ("text",)
    list_per_page = 100


@admin.register(SuccessMetric)
class SuccessMetricAdmin(admin.ModelAdmin):
    """The document's success metrics; a metric with an income gate holds learners below
    its transition until their figure reaches it (placement: recomputed on change)."""

    list_display = ("track", "transition", "order", "text", "gate_amount")
    list_display_links = ("text",)
    list_filter = ("track", "from_level")
    list_select_related = ("track", "from_level")

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        placement_fields = {"gate_amount", "track", "from_level"} & set(form.changed_data)
        if obj.gate_amount is None and "gate_amount" not in form.changed_data:
            return  # no income condition before or after
        if not change or placement_fields:
            # A metric moved to another track changes the old track's learners too.
            _recompute_later(request, self, track_ids=[obj.track_id, form.initial.get("track")])

    def delete_model(self, request, obj) -> None:
        track_id, gated = obj.track_id, obj.gate_amount is not None
        super().delete_model(request, obj)
        if gated:
            _recompute_later(request, self, track_ids=[track_id])

    def delete_queryset(self, request, queryset) -> None:
        track_ids = list(
            queryset.filter(gate_amount__isnull=False).values_list("track_id", flat=True)
        )
        super().delete_queryset(request, queryset)
        _recompute_later(request, self, track_ids=track_ids)

    @admin.display(description="transition", ordering="from_level__number")
    def transition(self, obj: SuccessMetric) -> str:
        return f"{obj.from_level.number} → {obj.from_level.number + 1}"


@admin.register(SelfAssessmentQuestion)
class SelfAssessmentQuestionAdmin(admin.ModelAdmin):
    list_display = ("track", "order", "text")
    list_display_links = ("text",)
    list_filter = ("track",)
    list_select_related = ("track",)
