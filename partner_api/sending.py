"""Sending for the API: check every recipient first, then hand over to billing's send service.

Nothing is sent unless the whole request is valid and no unique_id conflicts. The send service
(billing.services.outbox.send_sms) writes the rows and queues their send (the delivery worker),
so the API never waits for SerwerSMS beyond what the service itself does.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from billing.models import ClientAccount, Message
from billing.phones import PhoneError, normalize_phone
from billing.services import outbox
from billing.sms_text import TextError, check_text

from .rules import derived_unique_id


class SendRefused(ValueError):
    """The request cannot be sent; `errors` are (field, code, message); nothing was written."""

    def __init__(self, errors: list[tuple[str, str, str]], *, conflict: bool = False):
        super().__init__("; ".join(message for _, _, message in errors))
        self.errors = errors
        self.conflict = conflict


@dataclass(frozen=True)
class Recipient:
    phone: str
    unique_id: str | None = None


def _plan(
    account: ClientAccount, recipients: Sequence[Recipient], text: str, idempotency_key: str
) -> tuple[list[str], list[str | None]]:
    errors: list[tuple[str, str, str]] = []
    phones: list[str] = []
    unique_ids: list[str | None] = []
    seen_phones: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for index, recipient in enumerate(recipients):
        where = f"recipients[{index}]"
        try:
            phone = normalize_phone(recipient.phone, settings.DEFAULT_COUNTRY_REGION)
        except PhoneError as exc:
            errors.append((f"{where}.phone", "invalid_phone", str(exc)))
            phone = ""
        if phone and phone in seen_phones:
            errors.append(
                (
                    f"{where}.phone",
                    "duplicate",
                    f"{phone} is also recipients[{seen_phones[phone]}]; each gets one message.",
                )
            )
        seen_phones.setdefault(phone, index)
        unique_id = recipient.unique_id
        if not unique_id and idempotency_key:
            unique_id = derived_unique_id(account.pk, idempotency_key, index)
        if unique_id and unique_id in seen_ids:
            errors.append((f"{where}.unique_id", "duplicate", "This unique_id is listed twice."))
        if unique_id:
            seen_ids.setdefault(unique_id, index)
        phones.append(phone)
        unique_ids.append(unique_id)
    try:
        check_text(text, settings.SERWERSMS_MAX_PARTS)
    except TextError as exc:
        errors.append(("text", "invalid_text", str(exc)))
    if errors:
        raise SendRefused(errors)
    return phones, unique_ids


def _conflicts(
    account: ClientAccount,
    phones: list[str],
    unique_ids: list[str | None],
    text: str,
    sender: str,
) -> list[tuple[str, str, str]]:
    """A unique_id this account already used for a different message (phone, text, sender).

    Ids are per client account, as SerwerSMS scopes them: another account's messages are never
    looked at, so the answer says nothing about them."""
    wanted = {uid: i for i, uid in enumerate(unique_ids) if uid}
    if not wanted:
        return []
    digest = outbox.text_digest(text)
    errors = []
    for row in Message.objects.filter(account=account, unique_id__in=list(wanted)).values(
        "unique_id", "phone", "text_digest", "sender"
    ):
        index = wanted[row["unique_id"]]
        differences = [
            name
            for name, same in (
                ("phone", row["phone"] == phones[index]),
                ("text", row["text_digest"] == digest),
                ("sender", row["sender"] == sender),
            )
            if not same
        ]
        if differences:
            errors.append(
                (
                    f"recipients[{index}].unique_id",
                    "conflict",
                    f"unique_id {row['unique_id']!r} was already used for a message with a"
                    f" different {', '.join(differences)}; use a new unique_id.",
                )
            )
    return errors


def _accepts_unique_ids() -> bool:
    # [delivery] may give send_sms a per-recipient `unique_ids=` keyword; use it when present.
    return "unique_ids" in inspect.signature(outbox.send_sms).parameters


def send_messages(
    *,
    account: ClientAccount,
    recipients: Sequence[Recipient],
    text: str,
    sender: str = "",
    channel: str = "api_v2",
    idempotency_key: str = "",
) -> list[Message]:
    """Send `text` to every recipient from `account`; the messages in recipient order.

    Raises SendRefused (nothing written) on bad input, or with conflict=True when a unique_id
    was used for a different message. A unique_id sent again with the same phone and text
    answers the first messages and sends nothing.
    """
    phones, unique_ids = _plan(account, recipients, text, idempotency_key)
    conflicts = _conflicts(account, phones, unique_ids, text, sender or "")
    if conflicts:
        raise SendRefused(conflicts, conflict=True)
    try:
        if not any(unique_ids):
            return outbox.send_sms(account, phones, text, sender or None, channel)
        ids = [uid or uuid.uuid4().hex for uid in unique_ids]
        if _accepts_unique_ids():
            return outbox.send_sms(account, phones, text, sender or None, channel, unique_ids=ids)
        messages = []
        for phone, unique_id in zip(phones, ids, strict=True):
            messages.extend(
                outbox.send_sms(account, [phone], text, sender or None, channel, unique_id)
            )
        return messages
    except outbox.UniqueIdConflict as exc:
        raise SendRefused([("recipients", "conflict", str(exc))], conflict=True) from None
    except outbox.SendError as exc:
        raise SendRefused([(_field_of(str(exc)), "invalid", str(exc))]) from None


def _field_of(message: str) -> str:
    lowered = message.lower()
    if "sender" in lowered:
        return "sender"
    if "channel" in lowered or "xml api" in lowered or "email2sms" in lowered:
        return "channel"
    if "account" in lowered or "partner" in lowered:
        return "account"
    return "recipients"
