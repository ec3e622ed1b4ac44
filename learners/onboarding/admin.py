"""Who was invited and who accepted; the roster imports run by a worker."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from .models import Invitation, InvitationStatus, RosterImport
from .selectors import invitations_with_acceptance, roster_imports_visible_to
from .services import invitations_resend


class AcceptedFilter(admin.SimpleListFilter):
    title = "accepted"
    parameter_name = "accepted"

    def lookups(self, request, model_admin):
        return (("yes", "Accepted"), ("no", "Not yet"))

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(accepted=self.value() == "yes")
        return queryset


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("learner_link", "email", "status", "sent", "accepted_label")
    # The learner's name links to the learner; the address opens the invitation (a link
    # inside the row's own link would be a link without a name).
    list_display_links = ("email",)
    list_filter = ("status", AcceptedFilter, "learner__cohort")
    search_fields = (
        "learner__user__email",
        "learner__user__first_name",
        "learner__user__last_name",
    )
    list_select_related = ("learner__user", "learner__cohort")
    readonly_fields = ("learner", "status", "created_by", "created_at", "sent_at", "error")
    actions = ["send_again"]
    list_per_page = 100

    def get_queryset(self, request):
        return invitations_with_acceptance()

    def has_add_permission(self, request) -> bool:
        return False  # an import invites (the command's --invite, the admin's checkbox)

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a record; the change permission sends failed invitations again

    def has_resend_permission(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_invitation")

    @admin.display(description="learner", ordering="learner__user__last_name")
    def learner_link(self, obj: Invitation):
        url = reverse("admin:learners_learner_change", args=[obj.learner_id])
        return format_html('<a href="{}">{}</a>', url, obj.learner.user.get_full_name() or "-")

    @admin.display(description="email", ordering="learner__user__email")
    def email(self, obj: Invitation) -> str:
        return obj.learner.user.email

    @admin.display(description="sent", ordering="sent_at")
    def sent(self, obj: Invitation) -> str:
        return f"{timezone.localtime(obj.sent_at):%Y-%m-%d %H:%M}" if obj.sent_at else "-"

    @admin.display(description="accepted", ordering="accepted")
    def accepted_label(self, obj: Invitation) -> str:
        if not obj.accepted:
            return "not yet"
        user = obj.learner.user
        return f"yes, signed in {user.last_login:%Y-%m-%d}" if user.last_login else "yes"

    @admin.action(description="Send the failed invitations again", permissions=["resend"])
    def send_again(self, request, queryset) -> None:
        count = invitations_resend(
            invitation_ids=queryset.filter(status=InvitationStatus.FAILED).values_list(
                "pk", flat=True
            )
        )
        self.message_user(
            request,
            f"{count} invitation{'s' if count != 1 else ''} sent again.",
            messages.SUCCESS if count else messages.WARNING,
        )


@admin.register(RosterImport)
class RosterImportAdmin(admin.ModelAdmin):
    list_display = ("pk", "created_at", "created_by", "rows", "invite", "status_link")
    list_filter = ("status",)
    fields = (
        "status",
        "rows",
        "invite",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "report",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        # Each instructor follows their own imports (see the selector for why).
        return roster_imports_visible_to(request.user)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="status")
    def status_link(self, obj: RosterImport):
        url = reverse("admin:learners_learner_import_status", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.get_status_display())
