"""The operations app: health checks, Prometheus metrics and operators' alerts."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = _("Operations")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Celery signals: the last run and duration of the tasks operators watch (heartbeats.py).
        from ops import heartbeats

        heartbeats.connect_task_signals()
