"""What the log lines that follow concern (account, partner, messages), and the secrets no line
may show. Imports only structlog: services call it, partner_portal/logging.py renders it."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

from structlog.contextvars import bind_contextvars

REDACTED = "[redacted]"
# Shorter values are not treated as secrets (they would redact ordinary words).
MIN_SECRET_LENGTH = 8

_secrets: set[str] = set()
_lock = threading.Lock()
_pattern: re.Pattern[str] | None = None


def add_secrets(values: Iterable[str | None]) -> None:
    """Never log these values (configured secrets, an account's credentials); safe to repeat."""
    global _pattern
    fresh = {v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH}
    if fresh - _secrets:
        with _lock:
            _secrets.update(fresh)
            # Longest first, so a secret holding another one is replaced whole.
            ordered = sorted(_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(v) for v in ordered))


def scrub_known(text: str) -> str:
    """`text` with every registered secret value replaced by `[redacted]`."""
    return _pattern.sub(REDACTED, text) if _pattern is not None else text


def bind_account(account: Any) -> None:
    """Name this account and its partner on the lines that follow (this task or request), and
    never log its credentials or callback secret."""
    add_secrets(
        getattr(account, name, None)
        for name in ("api_token", "password", "callback_secret", "email2sms_key")
    )
    bind_contextvars(account_id=account.pk, partner_id=account.partner_id)


def bind_messages(message_ids: Iterable[int]) -> None:
    """Name the messages the following lines concern (at most 50 ids: lines stay short)."""
    ids = list(message_ids)
    bind_contextvars(message_ids=ids[:50], message_count=len(ids))
