from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from learners.admin.dashboard import dashboard_view
from learners.admin.insights import insights_view
from pyramid_site.health import healthz, readiness_view

urlpatterns = [
    path(
        f"{settings.ADMIN_URL}dashboard/",
        admin.site.admin_view(dashboard_view),
        name="admin_dashboard",
    ),
    path(
        f"{settings.ADMIN_URL}insights/",
        admin.site.admin_view(insights_view),
        name="admin_insights",
    ),
    path(settings.ADMIN_URL, admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("healthz", healthz, name="healthz"),
    path("readyz", readiness_view, name="readyz"),
    path("api/", include("learners.integrations.api.urls")),
    path("webhooks/", include("learners.integrations.urls")),
    path("", include("learners.urls")),
]
