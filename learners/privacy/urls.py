from django.urls import path

from . import views

app_name = "privacy"
urlpatterns = [
    path("data/", views.data_download, name="data_download"),
    path("delete/", views.account_delete, name="account_delete"),
]
