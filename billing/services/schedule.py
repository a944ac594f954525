"""The periodic tasks in django-celery-beat's schedule: created once, then the operator's."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

POLL_TASK_NAME = "Poll SerwerSMS delivery statuses"
POLL_TASK = "billing.tasks.poll_all_accounts"
RETENTION_TASK = "billing.tasks.apply_retention"
DERIVED_CHECK_TASK = "billing.tasks.check_derived_data"


def _ensure(
    name: str, task: str, every: int, description: str, *, run_at_once: bool = False
) -> bool:
    """`run_at_once`: the first run at beat's next tick rather than one interval after now."""
    if PeriodicTask.objects.filter(name=name).exists():
        return False
    schedule, _ = IntervalSchedule.objects.get_or_create(
        every=every, period=IntervalSchedule.SECONDS
    )
    defaults = {"task": task, "interval": schedule, "description": description}
    if run_at_once:
        defaults["start_time"] = timezone.now()  # django-celery-beat: due at once, then every
    PeriodicTask.objects.get_or_create(name=name, defaults=defaults)
    return True


def ensure_status_poll_task() -> bool:
    """Create the periodic tasks that are missing; True when the poll task was created. Runs
    after every migrate. An existing task is never touched, so the operator's changes in the
    admin (interval, enabled) survive; to stop polling, disable the task rather than delete it."""
    _ensure(
        "Resume unfinished sends (outbox)",
        "billing.tasks.resume_sends",
        settings.OUTBOX_RESUME_INTERVAL_SECONDS,
        "send again what a crash or lost task left submitting",
    )
    _ensure(
        "Beat heartbeat (readiness)",
        "ops.tasks.beat_heartbeat",
        settings.OPS_HEARTBEAT_INTERVAL_SECONDS,
        "beat's last tick, read by /readyz and the alerts",
    )
    _ensure(
        "Evaluate operators' alerts",
        "ops.tasks.evaluate_alerts",
        settings.ALERT_INTERVAL_SECONDS,
        "operators' alerts",
    )
    _ensure(
        "Erase personal data past retention",
        RETENTION_TASK,
        settings.RETENTION_INTERVAL_SECONDS,
        "phones and texts of closed months older than RETENTION_MONTHS",
    )
    _ensure(
        "Check derived data (rollups, late changes)",
        DERIVED_CHECK_TASK,
        settings.DERIVED_CHECK_INTERVAL_SECONDS,
        "rollups and late changes against the messages (manage.py rollups --check); alerts",
        run_at_once=True,  # a baseline at once, not an alert that it never ran a day after
    )
    return _ensure(
        POLL_TASK_NAME, POLL_TASK, settings.STATUS_POLL_INTERVAL_SECONDS, "billing status poll"
    )
