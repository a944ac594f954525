"""The periodic status poll in django-celery-beat's schedule: created once, then the operator's."""

from __future__ import annotations

from django.conf import settings

POLL_TASK_NAME = "Poll SerwerSMS delivery statuses"
POLL_TASK = "billing.tasks.poll_all_accounts"


def ensure_status_poll_task() -> bool:
    """Create the PeriodicTask if no task of that name exists; True when it was created.

    Runs after every migrate. An existing task is never touched, so the operator's changes in the
    admin (interval, enabled) survive; to stop polling, disable the task rather than delete it.
    """
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    if PeriodicTask.objects.filter(name=POLL_TASK_NAME).exists():
        return False
    schedule, _ = IntervalSchedule.objects.get_or_create(
        every=settings.STATUS_POLL_INTERVAL_SECONDS, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.get_or_create(
        name=POLL_TASK_NAME,
        defaults={"task": POLL_TASK, "interval": schedule, "description": "billing status poll"},
    )
    return True
