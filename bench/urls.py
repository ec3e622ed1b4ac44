"""The site's URLs plus two bench-only pages (``bench.settings`` only, never the product).

``/bench/signed-in`` is the cheapest page a signed-in learner can get, behind the same
middleware as the progress page: it reads the session and the user, then returns a few
bytes. The progress page's target is stated against it (issue 10: p50 within 1.5x).

``/bench/signed-in-layout`` is the same in the site's layout (``base.html``: navigation,
messages, static files), as every HTML page of the site is: for reference, it shows how much
of the progress page's cost any page of the site pays.

``/bench/progress-miss`` is the progress page with the learner's cached body dropped first,
so every request draws it: the cost of the first view after a change.
"""

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpResponse
from django.template import engines
from django.urls import path

from learners.models import Learner
from learners.progress_page import progress_cache_key
from learners.views import progress
from pyramid_site.urls import urlpatterns as site_urlpatterns


@login_required
def signed_in(request):
    return HttpResponse(f"ok {request.user.pk}", content_type="text/plain")


LAYOUT = engines["django"].from_string(
    '{% extends "base.html" %}{% block head_title %}Bench{% endblock %}'
    "{% block content %}<p>ok {{ user.pk }}</p>{% endblock %}"
)


@login_required
def signed_in_layout(request):
    return HttpResponse(LAYOUT.render({}, request))


@login_required
def progress_miss(request):
    learner = Learner.objects.filter(user=request.user).only("pk", "version").first()
    if learner is not None:
        cache.delete(progress_cache_key(request.user, learner))
    return progress(request)


urlpatterns = [
    path("bench/signed-in", signed_in),
    path("bench/signed-in-layout", signed_in_layout),
    path("bench/progress-miss", progress_miss),
    *site_urlpatterns,
]
