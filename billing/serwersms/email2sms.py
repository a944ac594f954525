"""Email2SMS: one mail per recipient through Django's e-mail backend (contract in types.py).

The mail goes to SERWERSMS_EMAIL2SMS_ADDRESS from the account's registered address, Subject the
phone in E.164, body the text, and the partner's ic in the `SerwerSMS-Dealer` header.
No SerwerSMS id comes back: the message is `queued` once the SMTP server accepted the mail.
"""

from __future__ import annotations

import smtplib
import socket

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from . import ic as ic_rules
from .errors import InvalidInput, SerwerSMSError, TransportError

ACTION = "send"


class Email2SMSClient:
    channel = ic_rules.EMAIL2SMS

    def __init__(self, *, ic: int | None, from_address: str = "", timeout: float | None = None):
        self.ic = ic
        self.from_address = from_address or settings.SERWERSMS_EMAIL2SMS_FROM
        self.timeout = timeout if timeout is not None else settings.SERWERSMS_TIMEOUT

    def _connection(self):
        # The SMTP backend takes these; other backends (locmem in tests) ignore them.
        return get_connection(
            host=settings.SERWERSMS_EMAIL2SMS_HOST,
            port=settings.SERWERSMS_EMAIL2SMS_PORT,
            username=settings.SERWERSMS_EMAIL2SMS_USER or None,
            password=settings.SERWERSMS_EMAIL2SMS_PASSWORD or None,
            use_tls=settings.SERWERSMS_EMAIL2SMS_USE_TLS,
            timeout=self.timeout,
            fail_silently=False,
        )

    def build(self, phone: str, text: str) -> EmailMessage:
        headers = ic_rules.with_ic(self.channel, ACTION, {}, self.ic)
        return EmailMessage(
            subject=phone,
            body=text,
            from_email=self.from_address,
            to=[settings.SERWERSMS_EMAIL2SMS_ADDRESS],
            headers=headers,
        )

    def send(self, phone: str, text: str) -> None:
        """Hand one mail to the SMTP server; returns when it was accepted, else raises."""
        mail = self.build(phone, text)
        try:
            with self._connection() as connection:
                accepted = connection.send_messages([mail])
        except (ConnectionRefusedError, socket.gaierror, smtplib.SMTPConnectError) as exc:
            raise TransportError(
                f"Could not connect to the Email2SMS server: {exc}", may_have_been_sent=False
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise SerwerSMSError(exc.smtp_code, _smtp_text(exc), None) from exc
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            raise InvalidInput(
                "mail_refused", f"The Email2SMS server refused the mail: {exc}"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise SerwerSMSError(exc.smtp_code, _smtp_text(exc), None) from exc
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
            # The mail may have been accepted before the connection went away.
            raise TransportError(
                f"The Email2SMS server did not confirm the mail: {exc}", may_have_been_sent=True
            ) from exc
        if not accepted:
            raise SerwerSMSError("mail_not_accepted", "The e-mail backend did not send the mail.")


def _smtp_text(exc: smtplib.SMTPResponseException) -> str:
    message = exc.smtp_error
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return f"The Email2SMS server answered {exc.smtp_code}: {message}"
