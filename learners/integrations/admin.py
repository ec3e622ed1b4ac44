"""Instructors' admin: API keys (shown once), platform connections with their module
mappings, and every webhook event (replayable)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import reverse

from .models import ApiKey, ModuleMapping, PlatformConnection, WebhookEvent
from .services.api_keys import api_key_create, api_keys_revoke
from .services.replay import webhook_events_replay


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "scope", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_at", "created_by", "last_used_at", "revoked_at")
    actions = ("revoke",)

    def get_fields(self, request, obj=None):
        return ("name", "scope") if obj is None else ("name", *self.readonly_fields, "scope")

    def get_readonly_fields(self, request, obj=None):
        # A key's scope is fixed once it is in use: revoke it and create another.
        return () if obj is None else (*self.readonly_fields, "scope")

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        key, request.api_key_text = api_key_create(
            name=obj.name, scope=obj.scope, created_by=request.user
        )
        obj.pk, obj.prefix = key.pk, key.prefix

    def response_add(self, request, obj, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "title": "API key created",
            "key": obj,
            "key_text": request.api_key_text,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "integrations/admin/api_key_created.html", context)

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        count = api_keys_revoke(key_ids=list(queryset.values_list("pk", flat=True)))
        messages.success(request, f"{count} key{'s' if count != 1 else ''} revoked.")


class ModuleMappingInline(admin.TabularInline):
    model = ModuleMapping
    extra = 1


@admin.register(PlatformConnection)
class PlatformConnectionAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "slug", "receiver_url", "is_active")
    list_filter = ("kind", "is_active")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (ModuleMappingInline,)

    @admin.display(description="Webhook URL")
    def receiver_url(self, obj: PlatformConnection) -> str:
        return f"{settings.SITE_URL}{reverse('webhook', args=[obj.slug])}"


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = (
        "received_at",
        "connection",
        "topic",
        "status",
        "email",
        "course_id",
        "lesson_id",
        "module",
        "note",
    )
    list_filter = ("status", "connection", "topic")
    search_fields = ("email", "event_id", "course_id", "lesson_id")
    list_select_related = ("connection", "module")
    date_hierarchy = "received_at"
    actions = ("replay",)
    exclude = ("body",)
    readonly_fields = [
        field.name for field in WebhookEvent._meta.fields if field.name != "body"
    ] + ["body_text"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Replay the selected events (rejected ones are skipped)")
    def replay(self, request, queryset):
        count = webhook_events_replay(event_ids=list(queryset.values_list("pk", flat=True)))
        messages.success(request, f"{count} event{'s' if count != 1 else ''} handed to a worker.")
