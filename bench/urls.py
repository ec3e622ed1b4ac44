"""The site's URLs plus two bench-only pages (``bench.settings`` only, never the product).

``/bench/signed-in`` is the cheapest page a signed-in learner can get: it reads the session
and the user like the progress page does, then returns a few bytes. Beside ``/healthz``
(which touches neither) it shows how much of the progress page is authentication.

``/bench/progress-cached`` is a prototype of the fix the report proposes for the progress
page: the rendered page kept in the cache under a key that changes whenever anything on it
can change (the learner's level, activity, assessment, history; the curriculum cache). A
hit costs the session, the user, one learner row and one cache read. It is a measurement
aid only: it ignores flash messages and serves the cached CSRF token.
"""

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpResponse
from django.urls import path

from learners.models import Learner
from learners.views import progress
from pyramid_site.urls import urlpatterns as site_urlpatterns


@login_required
def signed_in(request):
    return HttpResponse(f"ok {request.user.pk}", content_type="text/plain")


@login_required
def progress_cached(request):
    learner = (
        Learner.objects.filter(user=request.user)
        .values_list(
            "pk", "level", "level_changed_at", "last_activity_at", "assessment_submitted_at"
        )
        .first()
    )
    key = "bench-progress-" + "-".join(
        str(int(value.timestamp() * 1e6)) if hasattr(value, "timestamp") else str(value)
        for value in learner or ()
    )
    html = cache.get(key)
    if html is not None:
        return HttpResponse(html)
    response = progress(request)
    if response.status_code == 200:
        cache.set(key, response.content, 300)
    return response


urlpatterns = [
    path("bench/signed-in", signed_in),
    path("bench/progress-cached", progress_cached),
    *site_urlpatterns,
]
