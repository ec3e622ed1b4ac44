"""The learner's nudge pages: one-click unsubscribe (RFC 8058) and the preference page.

Unsubscribe: no login and no CSRF token: the signed token in the URL is the authority, and
mail providers POST ``List-Unsubscribe=One-Click`` without a session. POST answers 200 (no
redirect), and doing it twice is harmless.

Preferences: reached from every email (a signed token of its own) or, signed in, from the
profile. Every page here is personal: ``Cache-Control: private, no-store``, and the pages
reached from a link never show the address.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core import signing
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ..models import Learner
from ..services import learner_ensure
from .content import preferences_learner_id, unsubscribe_learner_id
from .forms import NudgePreferencesForm
from .selectors import preferences_of
from .services.preferences import learner_set_nudge_preferences
from .services.unsubscribe import learner_unsubscribe

personal = cache_control(private=True, no_store=True)


@personal
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    try:
        if request.method == "POST":
            learner = learner_unsubscribe(token=token)
            return render(request, "nudges/unsubscribed.html", {"learner": learner})
        learner = Learner.objects.get(pk=unsubscribe_learner_id(token))
    except signing.BadSignature:
        return render(request, "nudges/unsubscribe_invalid.html", status=400)
    except Learner.DoesNotExist:
        return render(request, "nudges/unsubscribe_invalid.html", status=404)
    return render(request, "nudges/unsubscribe.html", {"learner": learner, "token": token})


@personal
@require_http_methods(["GET", "POST"])
def preferences_from_link(request, token: str):
    """The preference page from an email's link (CSRF-protected like any form)."""
    try:
        learner = Learner.objects.get(pk=preferences_learner_id(token))
    except signing.BadSignature:
        return render(request, "nudges/unsubscribe_invalid.html", status=400)
    except Learner.DoesNotExist:
        return render(request, "nudges/unsubscribe_invalid.html", status=404)
    return _preferences(request, learner)


@personal
@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    return _preferences(request, learner_ensure(user=request.user))


def _preferences(request, learner: Learner):
    preference = preferences_of([learner.pk]).get(learner.pk)
    kinds_off = preference.kinds_off if preference else []
    saved = False
    if request.method == "POST":
        form = NudgePreferencesForm(data=request.POST)
        if form.is_valid():
            learner_set_nudge_preferences(
                learner=learner, enabled=form.enabled(), kinds_off=form.kinds_off(kinds_off)
            )
            saved = True
            preference = preferences_of([learner.pk]).get(learner.pk)
            # Shown as saved: what the learner gets from now on.
            form = NudgePreferencesForm.initial_for(
                learner.nudges_enabled, preference.kinds_off if preference else []
            )
    else:
        form = NudgePreferencesForm.initial_for(learner.nudges_enabled, kinds_off)
    return render(
        request,
        "nudges/preferences.html",
        {"form": form, "saved": saved, "enabled": learner.nudges_enabled},
    )
