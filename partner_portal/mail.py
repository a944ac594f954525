"""Mail to people (password resets, invitations), through billing.mail.portal_connection."""

from __future__ import annotations

from django.core.mail import send_mail

from billing.mail import portal_connection


def send_to_person(*, to: str, subject: str, body: str) -> None:
    # from_email None: DEFAULT_FROM_EMAIL. A header cannot hold a line break.
    send_mail(" ".join(subject.splitlines()), body, None, [to], connection=portal_connection())
