from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views
from .problems import not_found

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api_schema"), name="api_docs"),
    path("v1/learners/", views.LearnerListView.as_view(), name="api_learners"),
    path("v1/learners/<str:email>/", views.LearnerView.as_view(), name="api_learner"),
    path(
        "v1/learners/<str:email>/placement/",
        views.PlacementView.as_view(),
        name="api_learner_placement",
    ),
    path(
        "v1/learners/<str:email>/modules/<int:number>/",
        views.ModuleDoneView.as_view(),
        name="api_learner_module",
    ),
    path(
        "v1/learners/<str:email>/keys/<str:code>/",
        views.KeyDoneView.as_view(),
        name="api_learner_key",
    ),
    re_path(r"", not_found),  # anything else under /api/, newlines included
]
