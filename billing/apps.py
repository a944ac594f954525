from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_poll_schedule(sender, using="default", **kwargs) -> None:
    from billing.services.schedule import ensure_status_poll_task

    if using == "default":
        ensure_status_poll_task()


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the tasks in every process: services queue them by name (services/enqueue.py).
        from billing import tasks  # noqa: F401

        # The beat schedule lives in the database (DatabaseScheduler): seed it once.
        post_migrate.connect(_ensure_poll_schedule, sender=self, dispatch_uid="billing_poll_task")
