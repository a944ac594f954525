"""The beat schedule: created by migrate, every 2 minutes, and the operator's edits survive."""

import pytest
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from billing.services.schedule import (
    DERIVED_CHECK_TASK,
    POLL_TASK,
    POLL_TASK_NAME,
    RETENTION_TASK,
    ensure_status_poll_task,
)

pytestmark = pytest.mark.django_db


def test_migrate_creates_the_poll_task_every_two_minutes():
    task = PeriodicTask.objects.get(name=POLL_TASK_NAME)
    assert task.task == POLL_TASK and task.enabled
    assert (task.interval.every, task.interval.period) == (120, IntervalSchedule.SECONDS)


def test_the_daily_derived_data_check_is_due_at_once_then_every_day(settings):
    """Its first run at beat's next tick (a baseline, not a 'never ran' alert for a day); the
    retention task, like the others, one interval after it was created."""
    from django_celery_beat.schedulers import ModelEntry

    from config.celery import app

    task = PeriodicTask.objects.get(task=DERIVED_CHECK_TASK)
    assert task.enabled and task.start_time is not None
    assert (task.interval.every, task.interval.period) == (24 * 3600, IntervalSchedule.SECONDS)
    assert settings.DERIVED_CHECK_INTERVAL_SECONDS == 24 * 3600
    assert ModelEntry(task, app=app).is_due().is_due
    retention = PeriodicTask.objects.get(task=RETENTION_TASK)
    assert not ModelEntry(retention, app=app).is_due().is_due
    assert ensure_status_poll_task() is False
    assert PeriodicTask.objects.filter(task=DERIVED_CHECK_TASK).count() == 1


def test_operator_changes_survive_another_migrate():
    task = PeriodicTask.objects.get(name=POLL_TASK_NAME)
    task.interval = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.MINUTES)
    task.enabled = False
    task.save()
    call_command("migrate", verbosity=0)
    assert ensure_status_poll_task() is False
    task = PeriodicTask.objects.get(name=POLL_TASK_NAME)
    assert (task.interval.every, task.interval.period, task.enabled) == (10, "minutes", False)
    assert PeriodicTask.objects.filter(task=POLL_TASK).count() == 1


def test_celery_app_uses_the_database_scheduler_and_late_acks():
    from config.celery import app

    assert app.conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"
    assert app.conf.task_acks_late is True
    app.loader.import_default_modules()
    assert {"billing.tasks.poll_account", "billing.tasks.poll_all_accounts"} <= set(app.tasks)
