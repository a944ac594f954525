"""Mail to people (password resets, invitations), through billing.mail.portal_connection."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from billing.mail import portal_connection


def send_to_person(*, to: str, subject: str, body: str, html: str | None = None) -> None:
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
