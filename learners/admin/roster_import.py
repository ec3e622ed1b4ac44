"""The admin's roster import page: upload, preview, confirm."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse

from ..onboarding.selectors import roster_imports_visible_to
from ..roster import jobs, roster_import


class RosterUploadForm(forms.Form):
    file = forms.FileField(required=False, label="Roster CSV")
    # The previewed file, sent back on confirmation so that exactly it is imported.
    content = forms.CharField(required=False, widget=forms.HiddenInput)
    invite = forms.BooleanField(
        required=False,
        label="Invite the learners to set their password",
        help_text="One email each, to learners who have never had a password or an invitation "
        "(never to staff or erased addresses).",
    )

    MAX_BYTES = 5 * 1024 * 1024
    # The confirmation posts the file's text back (with the CSRF token and the button).
    CONFIRM_MARGIN = 16 * 1024

    @classmethod
    def max_bytes(cls) -> int:
        """The largest file the page imports: its text comes back as a form field on
        confirmation, and Django refuses form fields larger in all than
        DATA_UPLOAD_MAX_MEMORY_SIZE with a bare 400."""
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is None:
            return cls.MAX_BYTES
        return min(cls.MAX_BYTES, limit - cls.CONFIRM_MARGIN)

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload is None and not data.get("content"):
            raise forms.ValidationError("Choose a CSV file.")
        if upload is not None:
            too_large = forms.ValidationError(
                f"The file is larger than {self.max_bytes() / (1024 * 1024):.1f} MB, the most "
                "this page imports: split it, or import it with the import_learners command."
            )
            if upload.size > self.max_bytes():
                raise too_large
            try:
                content = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise forms.ValidationError("The file is not UTF-8 text.") from exc
            # A browser posts line breaks as CRLF: count what the confirmation will send.
            posted = len(content.encode()) + content.count("\n") + content.count("\r")
            if posted > self.max_bytes():
                raise too_large
            data["content"] = content
        return data

    def roster_text(self) -> str:
        return self.cleaned_data["content"]


def counted(number: int, word: str) -> str:
    """ "1 row", "2 rows": a number with its noun in the right number."""
    return f"{number:,} {word}{'' if number == 1 else 's'}"


def roster_import_view(model_admin, request: HttpRequest) -> HttpResponse:
    """Upload a roster, preview what it does, and import exactly the previewed file."""
    if not (model_admin.has_add_permission(request) and model_admin.has_change_permission(request)):
        raise PermissionDenied
    form = RosterUploadForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        content = form.roster_text()
        confirm = "confirm" in request.POST
        invite = form.cleaned_data.get("invite", False)
        # Every line but the header, at most: a large file goes to a worker without
        # being checked twice in this request (the worker checks it again, all or nothing).
        if confirm and content.count("\n") > jobs.BACKGROUND_ROWS:
            job_id = jobs.roster_import_job_start(
                content=content, rows=content.count("\n"), invite=invite, created_by=request.user
            )
            return redirect("admin:learners_learner_import_status", job_id)
        report = roster_import(
            content, dry_run=not confirm, recorded_by=request.user, invite=invite and confirm
        )
        if confirm and report.ok:
            model_admin.message_user(
                request,
                f"Roster imported: {counted(report.rows, 'row')}, "
                f"{counted(report.created, 'learner')} created, "
                f"{report.updated} updated, {report.unchanged} unchanged; "
                f"{counted(report.levels_changed, 'level')} changed"
                + (f"; {report.invited} invited." if invite else "."),
                messages.SUCCESS,
            )
            return redirect("admin:learners_learner_changelist")
        if confirm:
            model_admin.message_user(
                request, "Nothing was imported: the file has errors.", messages.ERROR
            )
        form = RosterUploadForm(initial={"content": content})
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Import a roster",
        "form": form,
        "report": report,
        "content": form.initial.get("content", ""),
    }
    return TemplateResponse(request, "admin/learners/learner/import.html", context)


def roster_import_status_view(model_admin, request: HttpRequest, roster_import_id: int):
    """A background import, followed by the instructor until it ends (the page refreshes)."""
    if not (model_admin.has_add_permission(request) and model_admin.has_change_permission(request)):
        raise PermissionDenied
    job = get_object_or_404(roster_imports_visible_to(request.user), pk=roster_import_id)
    progress = None if job.finished else jobs.roster_import_job_progress(job.pk)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Importing a roster" if not job.finished else "Roster import",
        "job": job,
        "progress": progress,
        "percent": (progress or {}).get("percent", 0),
    }
    return TemplateResponse(request, "admin/learners/learner/import_status.html", context)
