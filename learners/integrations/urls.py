from django.urls import path

from . import views

urlpatterns = [
    path("<slug:connection>/", views.webhook, name="webhook"),
    path("<slug:connection>/<str:token>/", views.webhook, name="webhook-token"),
]
