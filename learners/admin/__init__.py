"""The instructors' admin, one module per part; the admin signs in through allauth."""

from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from django.contrib import admin

from . import cohorts, dashboard, history, learners, users  # noqa: F401 - registers

# allauth's login (its rate limits, two-factor step) for the admin too: a signed-in staff
# member goes to Django's admin login view, which sends them to the index, never to ?next=.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "Profit Pyramid: instructors"
admin.site.site_title = "Profit Pyramid admin"
admin.site.index_title = "Curriculum and learners"
