"""The site's URLs plus one bench-only page (``bench.settings`` only, never the product).

``/bench/signed-in`` is the cheapest page a signed-in learner can get: it reads the session
and the user like the progress page does, then returns a few bytes. Beside ``/healthz``
(which touches neither) it shows how much of the progress page is authentication.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path

from pyramid_site.urls import urlpatterns as site_urlpatterns


@login_required
def signed_in(request):
    return HttpResponse(f"ok {request.user.pk}", content_type="text/plain")


urlpatterns = [path("bench/signed-in", signed_in), *site_urlpatterns]
