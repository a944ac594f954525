"""Email2SMS (serwersms-api.md §6): one mail per recipient through Django's e-mail backend.

C: From the address authorised in the SerwerSMS panel; the subject carries its key (`klucz`), the
number (`numer`), optionally the sender name (`nadawca`) and the report flag (`raport`); the body
is the text ended by a line `END`; the partner's ic goes in the `SerwerSMS-Dealer` header.
I: the subject's syntax, `klucz=KEY numer=+48… nadawca=NAME raport=1` by default
(SERWERSMS_EMAIL2SMS_SUBJECT_ASSIGN / _SEPARATOR / _REPORT, docs/gateway.md).
No SerwerSMS id comes back: an accepted mail is only `queued`; a report must show the message.
"""

from __future__ import annotations

import re
import smtplib
import socket

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from . import ic as ic_rules
from .errors import ConfigurationError, InvalidInput, Outcome, SerwerSMSError, TransportError

ACTION = "send"
KEY = re.compile(r"^[A-Za-z0-9]+$")  # §6 (C)
SENDER = re.compile(r"^[A-Za-z0-9 ]{1,11}$")  # §6 (C): ≤ 11 letters, digits and spaces
END_LINE = "END"


class MailDeferred(SerwerSMSError):
    """An SMTP 4xx: the mail server took nothing and asks to try again later."""

    outcome = Outcome.NOTHING_DONE
    default_code = "mail_deferred"


def subject(key: str, phone: str, sender: str | None = None) -> str:
    """The Email2SMS subject for one number."""
    report = "1" if settings.SERWERSMS_EMAIL2SMS_REPORT else ""
    fields = {"klucz": key, "numer": phone, "nadawca": sender, "raport": report}
    return settings.SERWERSMS_EMAIL2SMS_SUBJECT_SEPARATOR.join(
        f"{name}{settings.SERWERSMS_EMAIL2SMS_SUBJECT_ASSIGN}{value}"
        for name, value in fields.items()
        if value
    )


def body(text: str) -> str:
    """The text, then a line `END`: SerwerSMS ignores what follows (mail footers, adverts)."""
    lines = text.replace("\r\n", "\n").split("\n")
    if any(line.strip() == END_LINE for line in lines):
        raise InvalidInput(
            "end_in_text", "A line holding only END would cut the Email2SMS text short."
        )
    return f"{text}\n{END_LINE}\n"


class Email2SMSClient:
    channel = ic_rules.EMAIL2SMS

    def __init__(
        self,
        *,
        ic: int | None,
        from_address: str = "",
        key: str = "",
        timeout: float | None = None,
    ):
        if not from_address or not key:
            raise ConfigurationError(
                "no_email2sms_key",
                "Email2SMS needs the authorised sender address and its key from the panel.",
            )
        if not KEY.match(key):
            raise ConfigurationError(
                "bad_email2sms_key", "The Email2SMS key takes only a-z, A-Z and 0-9."
            )
        self.ic = ic
        self.from_address = from_address
        self.key = key
        self.timeout = timeout if timeout is not None else settings.SERWERSMS_TIMEOUT

    def build(self, phone: str, text: str, sender: str | None = None) -> EmailMessage:
        """The mail for one number; InvalidInput for a sender or text Email2SMS cannot carry."""
        if sender and not SENDER.match(sender):
            raise InvalidInput(
                "bad_sender", f"Email2SMS sender {sender!r}: at most 11 letters, digits, spaces."
            )
        headers = ic_rules.with_ic(self.channel, ACTION, {}, self.ic)
        return EmailMessage(
            subject=subject(self.key, phone, sender),
            body=body(text),
            from_email=self.from_address,
            to=[settings.SERWERSMS_EMAIL2SMS_ADDRESS],
            headers=headers,
        )

    def send(self, phone: str, text: str, sender: str | None = None) -> None:
        """Hand one mail to the SMTP server; returns when it was accepted, else raises an error
        whose outcome says what may have happened (a connection lost after DATA: MAYBE_DONE)."""
        mail = self.build(phone, text, sender)
        try:
            # The SMTP backend takes these; other backends (locmem in tests) ignore them.
            with get_connection(
                host=settings.SERWERSMS_EMAIL2SMS_HOST,
                port=settings.SERWERSMS_EMAIL2SMS_PORT,
                username=settings.SERWERSMS_EMAIL2SMS_USER or None,
                password=settings.SERWERSMS_EMAIL2SMS_PASSWORD or None,
                use_tls=settings.SERWERSMS_EMAIL2SMS_USE_TLS,
                timeout=self.timeout,
                fail_silently=False,
            ) as connection:
                accepted = connection.send_messages([mail])
        except (ConnectionRefusedError, socket.gaierror, smtplib.SMTPConnectError) as exc:
            raise TransportError(
                f"Could not connect to the Email2SMS server: {exc}", may_have_been_sent=False
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _message in exc.recipients.values()]
            cls = MailDeferred if codes and all(400 <= c < 500 for c in codes) else InvalidInput
            raise cls("mail_refused", f"The Email2SMS server refused the mail: {exc}") from exc
        except smtplib.SMTPResponseException as exc:
            cls = MailDeferred if 400 <= exc.smtp_code < 500 else InvalidInput
            message = exc.smtp_error
            if isinstance(message, bytes):
                message = message.decode("utf-8", "replace")
            text = f"The Email2SMS server answered {exc.smtp_code}: {message}"
            raise cls(exc.smtp_code, text, None) from exc
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
            # The mail may have been accepted before the connection went away.
            raise TransportError(
                f"The Email2SMS server did not confirm the mail: {exc}", may_have_been_sent=True
            ) from exc
        if not accepted:
            raise TransportError(
                "The e-mail backend did not confirm the mail.", may_have_been_sent=True
            )
