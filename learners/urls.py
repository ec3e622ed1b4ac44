from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("nudges/", include("learners.nudges.urls")),
    path("profile/", views.profile, name="profile"),
    path("account/", views.account, name="account"),
    path("profile/privacy/", include("learners.privacy.urls")),
    path("progress/", views.progress, name="progress"),
    path("progress/keys/<int:key_id>/", views.key_done, name="key_done"),
    path("progress/modules/<int:module_id>/", views.module_done, name="module_done"),
]
