"""URLs of the billing app (the SerwerSMS callback endpoint)."""

from django.urls import path

from billing import views

urlpatterns: list = [
    path(
        "callbacks/serwersms/<str:secret>/",
        views.serwersms_callback,
        name="serwersms_callback",
    ),
]
