"""Email2SMS: an aiosmtpd handler that turns a mail into a queued message (contract in types.py)."""

from __future__ import annotations

import email
import email.policy
from email.utils import parseaddr

from billing.simulator.core import Recipient, SendRequest, Simulator, SimulatorError, parse_ic


class Email2SMSHandler:
    """Known From address -> account; Subject = phone; plain-text body = text; ic from a header."""

    def __init__(self, sim: Simulator):
        self.sim = sim

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.sim.account_by_email(address) is None:
            self.sim.record_request("smtp", "email2sms", "MAIL", result="550 unknown sender")
            return f"550 5.7.1 {address} is not registered for Email2SMS"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        raw_ic = mail.get("SerwerSMS-Dealer")
        raw_ic = str(raw_ic).strip() if raw_ic is not None else None
        header_from = parseaddr(str(mail.get("From", "")))[1]
        account = self.sim.account_by_email(envelope.mail_from) or self.sim.account_by_email(
            header_from
        )
        try:
            if account is None:
                raise SimulatorError(1001, f"{envelope.mail_from} is not registered.")
            ic = parse_ic(raw_ic)
            body = mail.get_body(preferencelist=("plain",))
            text = body.get_content().strip() if body is not None else ""
            request = SendRequest(
                recipients=[Recipient(phone=str(mail.get("Subject", "")).strip(), text=text)],
                channel="email2sms",
                ic=ic,
            )
            outcome = self.sim.send(account, request)
        except SimulatorError as error:
            self.sim.record_request(
                "smtp", "email2sms", "DATA", ic=raw_ic, result=f"550 {error.message}"
            )
            return f"550 {error.type}: {error.message}"
        self.sim.record_request(
            "smtp",
            "email2sms",
            "DATA",
            ic=raw_ic,
            account=account.name,
            message_ids=[item["id"] for item in outcome.items],
        )
        return "250 Message queued"
