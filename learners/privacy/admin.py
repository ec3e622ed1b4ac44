"""The learner list's privacy actions: export a learner's data (instructors), erase learners
(superusers only, after a confirmation page). Both are logged in the admin's history
(``LogEntry``) and the application log, by ids only."""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone

from ..models import Learner, account_change_allowed
from .selectors import learner_data_export
from .services import account_erase
from .views import export_response

logger = logging.getLogger(__name__)


def _log(request, learner: Learner, flag: int, message: str) -> None:
    LogEntry.objects.log_actions(
        user_id=request.user.pk,
        queryset=[learner],
        action_flag=flag,
        change_message=message,
        single_object=True,
    )


@admin.action(description="Download the selected learner's personal data (JSON)")
def export_personal_data(modeladmin, request, queryset):
    learners = list(queryset.select_related("user")[:2])
    if len(learners) != 1:
        modeladmin.message_user(
            request, "Select exactly one learner to export their data.", messages.WARNING
        )
        return None
    learner = learners[0]
    if not account_change_allowed(account=learner.user, actor=request.user):
        modeladmin.message_user(
            request,
            "This is a staff account: only a superuser may export its data.",
            messages.ERROR,
        )
        return None
    _log(request, learner, CHANGE, "Exported the learner's personal data.")
    logger.info("personal data exported: learner %s by staff user %s", learner.pk, request.user.pk)
    stamp = timezone.now().strftime("%Y%m%d")
    return export_response(
        learner_data_export(user=learner.user), name=f"learner-{learner.pk}-data-{stamp}.json"
    )


@admin.action(description="Erase the selected learners' accounts and data (superusers)")
def erase_accounts(modeladmin, request, queryset):
    if not request.user.is_superuser:
        raise PermissionDenied
    learners = list(queryset.select_related("user"))
    if request.POST.get("confirm_erase") != "yes":
        return TemplateResponse(
            request,
            "admin/privacy/erase_confirm.html",
            {
                **modeladmin.admin_site.each_context(request),
                "opts": modeladmin.opts,
                "title": "Erase learners",
                "learners": learners,
                "action": "erase_accounts",
                "selected": [learner.pk for learner in learners],
            },
        )
    content_type = ContentType.objects.get_for_model(Learner)
    for learner in learners:
        account_erase(user=learner.user, actor=request.user)
        LogEntry.objects.create(
            user_id=request.user.pk,
            content_type=content_type,
            object_id=str(learner.pk),
            object_repr=f"learner {learner.pk} (erased)",
            action_flag=DELETION,
            change_message="Erased the learner's account and personal data.",
        )
    modeladmin.message_user(
        request, f"{len(learners)} learner account(s) erased.", messages.SUCCESS
    )
    return None
