"""Mail to people (password resets, invitations), through the portal's own mail server.

Never through Email2SMS: Django's default connection is SerwerSMS's SMTP gateway.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from billing.mail import portal_connection


def send_to_person(*, to: str, subject: str, body: str, html: str | None = None) -> None:
    """Send one mail to one person through portal_connection()."""
    message = EmailMultiAlternatives(
        subject=" ".join(subject.splitlines()),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        connection=portal_connection(),
    )
    if html:
        message.attach_alternative(html, "text/html")
    message.send()
