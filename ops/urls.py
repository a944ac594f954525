"""Operations URLs: liveness, readiness and Prometheus metrics (outside the portal's i18n)."""

from __future__ import annotations

from django.conf import settings
from django.urls import path

from ops import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path(settings.METRICS_PATH, views.metrics_view, name="metrics"),
]
