"""Mail to people (statement notices, alerts, password resets, invitations), through the portal's
own mail server: never through Email2SMS, since Django's default connection is SerwerSMS's SMTP
gateway. In billing so that services and ops use it without importing the web layer."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import get_connection


def portal_connection():
    """A connection for mail to people; PORTAL_EMAIL_BACKEND, else EMAIL_BACKEND (tests).
    Each backend takes only the keyword arguments it knows; the others are ignored."""
    return get_connection(
        settings.PORTAL_EMAIL_BACKEND or settings.EMAIL_BACKEND,
        host=settings.PORTAL_EMAIL_HOST,
        port=settings.PORTAL_EMAIL_PORT,
        username=settings.PORTAL_EMAIL_USER or None,
        password=settings.PORTAL_EMAIL_PASSWORD or None,
        use_tls=settings.PORTAL_EMAIL_USE_TLS,
        file_path=settings.PORTAL_EMAIL_FILE_PATH,
        fail_silently=False,
    )
