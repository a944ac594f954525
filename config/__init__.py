"""The Django project: settings, the root URLconf, the WSGI entry point and the Celery app.

Above every app (no app imports it). The Celery app loads with Django, so `@shared_task`s bind
to it and `celery -A config` finds it.
"""

from .celery import app as celery_app

__all__ = ("celery_app",)
