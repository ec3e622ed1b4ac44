"""Instructors' admin: API keys (shown once), platform connections with their module
mappings, and every webhook event (replayable)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from .models import ApiKey, DeliveryRefusal, ModuleMapping, PlatformConnection, WebhookEvent
from .selectors import connection_webhook_url, last_delivery_text
from .services.api_keys import api_key_create, api_keys_revoke
from .services.connections import (
    connection_rotate_url_token,
    connection_set_secrets,
    secret_masked,
)
from .services.replay import webhook_events_replay
from .setup import SETUP_STEPS


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
    fields = ("course_id", "lesson_id", "module")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        """Narrow id boxes, and the module as a plain choice (modules are not edited
        from here): the table fits beside the admin's menu at 1280 px."""
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(field.widget, RelatedFieldWidgetWrapper):
            field.widget.can_add_related = field.widget.can_change_related = False
            field.widget.can_view_related = False
        elif db_field.name in ("course_id", "lesson_id"):
            field.widget.attrs["size"] = 14
        return field


class PlatformConnectionForm(forms.ModelForm):
    """The connection without its secrets: they are write-only. Holders of
    ``set_platform_secrets`` get the fields that set a secret and rotate the URL token."""

    new_secret = forms.CharField(
        label="New signing secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=(
            "Write-only: it is never shown again. Standard Webhooks: the whsec_… secret; "
            "Thinkific: the site's API key (or the app's client secret). Teachable needs none."
        ),
    )
    keep_current = forms.BooleanField(
        label="Keep the current secrets too (during a rotation)",
        required=False,
        initial=True,
    )
    rotate_url_token = forms.BooleanField(
        label="Rotate the webhook URL token (the old URL keeps working for 7 days)",
        required=False,
    )

    class Meta:
        model = PlatformConnection
        fields = ("name", "slug", "kind", "is_active")

    def clean_new_secret(self):
        secret = self.cleaned_data["new_secret"]
        if secret and len(secret) < 16:
            raise forms.ValidationError("A signing secret has at least 16 characters.")
        if secret and any(character.isspace() for character in secret):
            raise forms.ValidationError("A signing secret has no spaces or line breaks.")
        return secret


@admin.register(PlatformConnection)
class PlatformConnectionAdmin(admin.ModelAdmin):
    form = PlatformConnectionForm
    list_display = ("name", "kind", "is_active", "last_delivery")
    list_filter = ("kind", "is_active")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (ModuleMappingInline,)
    readonly_fields = ("webhook_url", "setup", "secrets_in_force", "last_delivery")

    class Media:
        css = {"all": ("integrations/admin.css",)}

    def _may_set_secrets(self, request) -> bool:
        return request.user.has_perm("integrations.set_platform_secrets")

    def get_fieldsets(self, request, obj=None):
        connection = ("name", "slug", "kind", "is_active")
        if obj is None:
            fieldsets = [(None, {"fields": connection})]
            if self._may_set_secrets(request):
                fieldsets.append(("Signing secret", {"fields": ("new_secret",)}))
            return fieldsets
        secrets = ["secrets_in_force"]
        if self._may_set_secrets(request):
            secrets += ["new_secret", "keep_current", "rotate_url_token"]
        return [
            (
                "Connect the platform",
                {"fields": ("webhook_url", "setup", "last_delivery")},
            ),
            (None, {"fields": connection}),
            ("Signing secrets and URL token", {"fields": secrets}),
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["fields"] = None  # the fieldsets decide; the form keeps its own fields
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not self._may_set_secrets(request):
            return
        if form.cleaned_data.get("new_secret"):
            connection_set_secrets(
                connection=obj,
                new_secret=form.cleaned_data["new_secret"],
                keep_current=change and form.cleaned_data.get("keep_current", False),
            )
            messages.info(request, "The signing secret is set.")
        if change and form.cleaned_data.get("rotate_url_token"):
            connection_rotate_url_token(connection=obj)
            messages.info(
                request,
                "A new webhook URL is in force; the old one keeps working for 7 days. "
                "Paste the new URL into the platform's settings.",
            )

    @admin.display(description="Webhook URL")
    def webhook_url(self, obj: PlatformConnection) -> str:
        if obj.pk is None:
            return "Shown once the connection is saved."
        url = connection_webhook_url(obj)
        return format_html(
            '<code class="webhook-url">{}</code><br><span class="help">{}</span>',
            url,
            "Paste this whole address into the platform; it authenticates the platform, "
            "so keep it as private as a password.",
        )

    @admin.display(description="How to connect")
    def setup(self, obj: PlatformConnection) -> str:
        steps = SETUP_STEPS.get(obj.kind, ())
        return format_html(
            '<ol class="connection-steps">{}</ol>',
            format_html_join("", "<li>{}</li>", ((step,) for step in steps)),
        )

    @admin.display(description="Secrets in force")
    def secrets_in_force(self, obj: PlatformConnection) -> str:
        masked = [secret_masked(secret) for secret in obj.secret_list]
        if not masked:
            return (
                "None (Teachable needs none)."
                if obj.kind == "teachable"
                else "None: every delivery is refused until a site admin sets one."
            )
        return ", ".join(masked)

    @admin.display(description="Last delivery")
    def last_delivery(self, obj: PlatformConnection) -> str:
        if obj.pk is None:
            return "None yet."
        return last_delivery_text(obj)


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


@admin.register(DeliveryRefusal)
class DeliveryRefusalAdmin(admin.ModelAdmin):
    """Refused deliveries: no body, only why, when, how big and from where (the latest
    100 per connection)."""

    list_display = ("received_at", "connection", "status", "reason", "size", "client_ip")
    list_filter = ("connection", "status")
    list_select_related = ("connection",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
