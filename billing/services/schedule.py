"""The periodic tasks in django-celery-beat's schedule: created once, then the operator's."""

from __future__ import annotations

from django.conf import settings
from django_celery_beat.models import IntervalSchedule, PeriodicTask

POLL_TASK_NAME = "Poll SerwerSMS delivery statuses"
POLL_TASK = "billing.tasks.poll_all_accounts"
RESUME_TASK_NAME = "Resume unfinished sends (outbox)"
RESUME_TASK = "billing.tasks.resume_sends"
HEARTBEAT_TASK_NAME = "Beat heartbeat (readiness)"
HEARTBEAT_TASK = "ops.tasks.beat_heartbeat"
ALERTS_TASK_NAME = "Evaluate operators' alerts"
ALERTS_TASK = "ops.tasks.evaluate_alerts"
RETENTION_TASK_NAME = "Erase personal data past retention"
RETENTION_TASK = "billing.tasks.apply_retention"


def _ensure(name: str, task: str, every: int, description: str) -> bool:
    if PeriodicTask.objects.filter(name=name).exists():
        return False
    schedule, _ = IntervalSchedule.objects.get_or_create(
        every=every, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.get_or_create(
        name=name, defaults={"task": task, "interval": schedule, "description": description}
    )
    return True


def ensure_status_poll_task() -> bool:
    """Create the poll and outbox PeriodicTasks if missing; True when the poll task was created.

    Runs after every migrate. An existing task is never touched, so the operator's changes in the
    admin (interval, enabled) survive; to stop polling, disable the task rather than delete it.
    """
    _ensure(
        RESUME_TASK_NAME,
        RESUME_TASK,
        settings.OUTBOX_RESUME_INTERVAL_SECONDS,
        "send again what a crash or lost task left submitting",
    )
    _ensure(
        HEARTBEAT_TASK_NAME,
        HEARTBEAT_TASK,
        settings.OPS_HEARTBEAT_INTERVAL_SECONDS,
        "beat's last tick, read by /readyz and the alerts",
    )
    _ensure(ALERTS_TASK_NAME, ALERTS_TASK, settings.ALERT_INTERVAL_SECONDS, "operators' alerts")
    _ensure(
        RETENTION_TASK_NAME,
        RETENTION_TASK,
        settings.RETENTION_INTERVAL_SECONDS,
        "phones and texts of closed months older than RETENTION_MONTHS",
    )
    return _ensure(
        POLL_TASK_NAME, POLL_TASK, settings.STATUS_POLL_INTERVAL_SECONDS, "billing status poll"
    )
