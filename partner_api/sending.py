"""Sending for the API: check every recipient first (nothing is sent unless the whole request is
valid and no unique_id conflicts), then outbox.send_sms writes the rows and queues their send.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence

from django.conf import settings

from billing.models import ClientAccount, Message
from billing.phones import PhoneError, normalize_phone
from billing.services import outbox
from billing.sms_text import TextError, check_text

from .schemas import RecipientIn


class SendRefused(ValueError):
    """The request cannot be sent; `errors` are (field, code, message); nothing was written."""

    def __init__(self, errors: list[tuple[str, str, str]], *, conflict: bool = False):
        super().__init__("; ".join(message for _, _, message in errors))
        self.errors = errors
        self.conflict = conflict


def _plan(
    account: ClientAccount, recipients: Sequence[RecipientIn], text: str, idempotency_key: str
) -> tuple[list[str], list[str | None]]:
    errors: list[tuple[str, str, str]] = []
    phones: list[str] = []
    unique_ids: list[str | None] = []
    seen_phones: dict[str, int] = {}
    seen_ids: set[str | None] = set()
    for index, recipient in enumerate(recipients):
        where = f"recipients[{index}]"
        try:
            phone = normalize_phone(recipient.phone, settings.DEFAULT_COUNTRY_REGION)
        except PhoneError as exc:
            errors.append((f"{where}.phone", "invalid_phone", str(exc)))
            phone = ""
        first = seen_phones.setdefault(phone, index)
        if phone and first != index:
            message = f"{phone} is also recipients[{first}]; each gets one message."
            errors.append((f"{where}.phone", "duplicate", message))
        unique_id = recipient.unique_id
        if not unique_id and idempotency_key:
            # The same key always names the same ids (41 characters of SerwerSMS's alphabet),
            # so a repeated or concurrent request never sends twice, even before the first
            # answer is stored.
            seed = f"{account.pk}:{idempotency_key}:{index}".encode()
            unique_id = "k" + hashlib.sha256(seed).hexdigest()[:40]
        if unique_id and unique_id in seen_ids:
            errors.append((f"{where}.unique_id", "duplicate", "This unique_id is listed twice."))
        seen_ids.add(unique_id)
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
    account: ClientAccount, phones: list[str], unique_ids: list[str | None], text: str, sender: str
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
        given = {"phone": phones[index], "text_digest": digest, "sender": sender}
        differences = [n.removesuffix("_digest") for n, v in given.items() if row[n] != v]
        if differences:
            message = (
                f"unique_id {row['unique_id']!r} was already used for a message with a"
                f" different {', '.join(differences)}; use a new unique_id."
            )
            errors.append((f"recipients[{index}].unique_id", "conflict", message))
    return errors


def send_messages(
    *,
    account: ClientAccount,
    recipients: Sequence[RecipientIn],
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
    conflicts = _conflicts(account, phones, unique_ids, text, sender)
    if conflicts:
        raise SendRefused(conflicts, conflict=True)
    ids = [uid or uuid.uuid4().hex for uid in unique_ids] if any(unique_ids) else None
    try:
        return outbox.send_sms(account, phones, text, sender or None, channel, unique_ids=ids)
    except outbox.UniqueIdConflict as exc:
        raise SendRefused([("recipients", "conflict", str(exc))], conflict=True) from None
    except outbox.SendError as exc:
        raise SendRefused([(exc.field, "invalid", str(exc))]) from None
