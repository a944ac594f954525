"""The operations app: health checks, Prometheus metrics and operators' alerts."""

from __future__ import annotations

import atexit

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = _("Operations")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Celery signals: the last run and duration of the tasks operators watch (heartbeats.py).
        from celery.signals import task_postrun, worker_process_shutdown
        from django.core.signals import request_finished

        from billing.serwersms import hooks
        from ops import counters, heartbeats

        heartbeats.connect_task_signals()
        # Every SerwerSMS answer, counted by channel and error class (billing sends the signal).
        hooks.answer_received.connect(
            counters.count_serwersms_answer, weak=False, dispatch_uid="ops.counters.serwersms"
        )
        # Buffered counters (SerwerSMS answers) are written when a task or request ends.
        task_postrun.connect(counters.flush, weak=False, dispatch_uid="ops.counters.task")
        request_finished.connect(counters.flush, weak=False, dispatch_uid="ops.counters.request")
        atexit.register(counters.flush, quiet=True)  # commands, outside tasks
        worker_process_shutdown.connect(
            counters.flush, weak=False, dispatch_uid="ops.counters.shutdown"
        )
