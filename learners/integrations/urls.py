from django.urls import path

from . import views

urlpatterns = [
    path("<slug:connection>/", views.webhook, name="webhook"),
]
