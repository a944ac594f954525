"""Partner Portal: the Django project and the partner-facing portal."""

from .celery import app as celery_app

__all__ = ("celery_app",)
