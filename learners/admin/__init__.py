"""The instructors' admin, one module per part; the admin signs in through allauth."""

from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.shortcuts import redirect

from . import cohorts, dashboard, history, learners, users  # noqa: F401 - registers

_django_admin_login = admin.site.login


def _signed_in_staff_go_to_the_index(request, extra_context=None):
    # Django's admin login already sends a signed-in staff GET to the index (never to
    # ?next=); a POST would show Django's own password form instead: the index too.
    if admin.site.has_permission(request):
        return redirect("admin:index")
    return _django_admin_login(request, extra_context)


# allauth's login (its rate limits and two-factor step) for the admin; a signed-in member of
# staff goes to the index, anyone else signed in gets 403.
admin.site.login = secure_admin_login(_signed_in_staff_go_to_the_index)
admin.site.site_header = "Profit Pyramid: instructors"
admin.site.site_title = "Profit Pyramid admin"
admin.site.index_title = "Curriculum and learners"
