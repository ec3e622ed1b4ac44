"""One-click unsubscribe (RFC 8058): GET shows a confirm button, POST unsubscribes.

No login and no CSRF token: the signed token in the URL is the authority, and mail
providers POST ``List-Unsubscribe=One-Click`` without a session. POST answers 200 (no
redirect), and doing it twice is harmless.
"""

from __future__ import annotations

from django.core import signing
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ..models import Learner
from .content import unsubscribe_learner_id
from .services.unsubscribe import learner_unsubscribe


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    try:
        if request.method == "POST":
            learner = learner_unsubscribe(token=token)
            return render(request, "nudges/unsubscribed.html", {"learner": learner})
        learner = Learner.objects.select_related("user").get(pk=unsubscribe_learner_id(token))
    except signing.BadSignature:
        return render(request, "nudges/unsubscribe_invalid.html", status=400)
    except Learner.DoesNotExist:
        return render(request, "nudges/unsubscribe_invalid.html", status=404)
    return render(request, "nudges/unsubscribe.html", {"learner": learner, "token": token})
