"""Download my data, delete my account: thin views over the privacy selectors and services."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from .forms import AccountDeleteForm
from .selectors import learner_data_export
from .services import account_erase


def export_response(data: dict, *, name: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def data_download(request: HttpRequest) -> HttpResponse:
    stamp = timezone.now().strftime("%Y%m%d")
    return export_response(
        learner_data_export(user=request.user), name=f"profit-pyramid-my-data-{stamp}.json"
    )


@login_required
@require_http_methods(["GET", "POST"])
def account_delete(request: HttpRequest) -> HttpResponse:
    form = AccountDeleteForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        user = request.user
        logout(request)
        account_erase(user=user)
        messages.success(request, "Your account and everything we held about you are deleted.")
        return redirect("home")
    return render(request, "privacy/account_delete.html", {"form": form})
