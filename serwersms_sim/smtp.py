"""Email2SMS as serwersms-api.md §6 describes it, as an aiosmtpd handler.

C: the mail goes to `sms@email2sms.serwersms.pl` / `email2sms@serwersms.pl` (static: numbers in the
subject) or `<number>@email2sms.serwersms.pl` (dynamic); From is an address authorised in the
panel, the subject carries its key (`klucz`), `numer` (`;`-separated), optional `nadawca`, `raport`,
`flash`; the text ends with a line `END` (the rest is ignored); `SerwerSMS-Dealer: <ic>` names the
partner. A mail that breaks these is accepted by the mail server and silently ignored, as SerwerSMS
does: nothing is sent, and only `/_sim/mails` tells why.
I: the subject syntax. Fields are read as `name=value` or `name:value`, separated by spaces,
commas or `&` (docs/simulator.md).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from email.utils import getaddresses, parseaddr
from typing import Any

from .core import Simulator
from .protocol import SimulatorError, parse_ic
from .sending import Recipient, SendRequest

SUBJECT_FIELDS = ("klucz", "numer", "nadawca", "raport", "flash")
_FIELD = re.compile(
    r"(?:^|[\s,&]+)(klucz|numer|nadawca|raport|flash)\s*[=:]\s*"
    r"(.*?)(?=(?:[\s,&]+(?:klucz|numer|nadawca|raport|flash)\s*[=:])|$)",
    re.IGNORECASE,
)
STATIC_LOCAL_PARTS = ("sms", "email2sms")


def parse_subject(subject: str) -> dict[str, str]:
    """The subject's fields (lower-case names); unknown text is ignored."""
    return {name.lower(): value.strip() for name, value in _FIELD.findall(subject or "")}


def text_before_end(body: str) -> str | None:
    """The text up to the line `END`; None when there is no such line (§6, C)."""
    lines = body.replace("\r\n", "\n").split("\n")
    for index, line in enumerate(lines):
        if line.strip() == "END":
            return "\n".join(lines[:index]).strip()
    return None


class Email2SMSHandler:
    """Reads each mail as SerwerSMS would and takes it, or ignores it with a reason."""

    def __init__(self, sim: Simulator):
        self.sim = sim

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        fault = self.sim.faults.next("email2sms", sending=True)
        if fault == "smtp_421":
            self._note(address, None, result="fault smtp_421", fault=fault)
            return "421 4.3.2 Service not available (simulated)"
        session.sim_fault = fault
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        fault = getattr(session, "sim_fault", None)
        session.sim_fault = None
        if fault in ("smtp_451", "smtp_554"):
            self._note(envelope.mail_from, None, result=f"fault {fault}", fault=fault)
            code = fault.removeprefix("smtp_")
            return f"{code} {'4.3.0' if code == '451' else '5.3.0'} Failed (simulated)"
        if fault == "smtp_drop":
            self._note(envelope.mail_from, None, result="fault smtp_drop", fault=fault)
            server.transport.close()
            return "421 closing"
        self.take(envelope.mail_from, envelope.rcpt_tos, envelope.content, fault=fault)
        if fault == "smtp_accept_then_drop":
            server.transport.close()  # taken; the sender never hears 250
            return "421 closing"
        if fault and fault.partition(":")[0] == "smtp_slow":
            await asyncio.sleep(self.sim.faults.delay_of(fault))
        return "250 Message accepted"  # also when ignored: SerwerSMS says nothing

    def take(
        self, mail_from: str, rcpt_tos: list[str], content: bytes, fault: str | None = None
    ) -> list[str] | None:
        """Read one mail; the ids of the messages taken, or None when it is ignored."""
        mail = email.message_from_bytes(content, policy=email.policy.default)
        header_from = parseaddr(str(mail.get("From", "")))[1]
        raw_ic = mail.get("SerwerSMS-Dealer")
        raw_ic = str(raw_ic).strip() if raw_ic is not None else None
        fields = parse_subject(str(mail.get("Subject", "")))

        def ignore(reason: str) -> None:
            self._note(mail_from, raw_ic, result=f"ignored: {reason}", fault=fault, **fields)
            return None

        account = self.sim.account_by_email(header_from or mail_from)
        if account is None or not account.email2sms_key:
            return ignore("From is not an authorised Email2SMS address")
        if mail_from and mail_from.lower() != account.email.lower():
            return ignore("the envelope sender is not the authorised address")
        if fields.get("klucz") != account.email2sms_key:
            return ignore("wrong or missing key (klucz)")
        body = mail.get_body(preferencelist=("plain", "html"))
        text = text_before_end(body.get_content() if body is not None else "")
        if text is None:
            return ignore("no line END after the text")
        recipients = rcpt_tos or [a for _n, a in getaddresses(mail.get_all("To", []))]
        phones: list[str] = []
        for address in recipients:
            local = address.split("@", 1)[0].lower()
            if local in STATIC_LOCAL_PARTS:
                phones.extend(p.strip() for p in fields.get("numer", "").split(";") if p.strip())
            else:
                phones.append(local)  # the dynamic form: the number is the local part
        if not phones:
            return ignore("no number (numer) for the static address")
        if any(p.lower() == "forward" for p in phones):
            return ignore("forward to a panel group: the simulator has no groups")
        try:
            ic = parse_ic(raw_ic)
            outcome = self.sim.send(
                account,
                SendRequest(
                    recipients=[Recipient(phone=p, text=text) for p in phones],
                    channel="email2sms",
                    ic=ic,
                    sender=fields.get("nadawca", ""),
                    flash=fields.get("flash", "") in ("1", "tak", "true", "yes"),
                ),
            )
        except SimulatorError as error:
            return ignore(f"{error.type} {error.code}: {error.message}")
        ids = [item["id"] for item in outcome.items if item["id"]]
        self._note(mail_from, raw_ic, result="taken", fault=fault, account=account.name, ids=ids)
        return ids

    def _note(self, mail_from: str, raw_ic: Any, **extra: Any) -> None:
        extra = {k: v for k, v in extra.items() if v is not None}
        entry = self.sim.record_request("smtp", "email2sms", "DATA", ic=raw_ic, **extra)
        with self.sim.lock:
            self.sim.mails.append({"from": mail_from, **entry})
