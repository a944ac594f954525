"""Simulated SerwerSMS accounts: credentials (§1 token or username/password), Email2SMS address
and key (§6), limits and permissions by message type (§3 account/limits), the callback URL (§5).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from .protocol import ControlError, SimulatorError

TYPES = ("eco", "full", "mms", "voice")
EMAIL2SMS_KEY = re.compile(r"^[A-Za-z0-9]+$")  # §6 (C): the key is a–z A–Z 0–9


@dataclass
class Account:
    name: str
    token: str = ""
    username: str = ""
    password: str = ""
    email: str = ""  # the Email2SMS address authorised in the panel (§6)
    email2sms_key: str = ""
    limit: int | None = None  # remaining parts for every type; None = no limit
    denied_types: list[str] = field(default_factory=list)  # types the account may not send
    callback_url: str = ""
    senders: list[dict[str, str]] = field(default_factory=list)  # senders/index items
    xml_numeric_errors: bool = False  # §4 (C): <Blad> in numbers when set in the panel

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


_STRINGS = ("name", "token", "username", "password", "email", "email2sms_key", "callback_url")
_FIELDS = set(_STRINGS) | {"limit", "denied_types", "senders", "xml_numeric_errors"}


class AccountsMixin:
    """Registering accounts and knowing callers by their credentials."""

    accounts: list[Account]

    def register_account(self, data: Any) -> Account:
        """Create an account, or update the one with the same name, token, username or email.

        Raises ControlError (never a crash) for anything but an object of known fields.
        """
        if not isinstance(data, dict):
            raise ControlError("An account is a JSON object of fields.")
        unknown = set(data) - _FIELDS
        if unknown:
            raise ControlError(f"Unknown account fields: {', '.join(sorted(unknown))}.")
        values = {k: ("" if data[k] is None else data[k]) for k in _STRINGS if k in data}
        for key, value in values.items():
            if not isinstance(value, str):
                raise ControlError(f"{key} must be a string.")
        limit = data.get("limit")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise ControlError("limit must be an integer or null.")
        denied = data.get("denied_types") or []
        if not isinstance(denied, list) or any(t not in TYPES for t in denied):
            raise ControlError(f"denied_types must be a list of {', '.join(TYPES)}.")
        if values.get("email2sms_key") and not EMAIL2SMS_KEY.match(values["email2sms_key"]):
            raise ControlError("email2sms_key takes only a-z, A-Z and 0-9.")
        with self.lock:
            account = self._find_account(values)
            if account is None:
                if not values.get("token") and not (
                    values.get("username") and values.get("password")
                ):
                    if not values.get("email"):
                        raise ControlError(
                            "An account needs a token, a username and password, or an email."
                        )
                name = (
                    values.get("name")
                    or values.get("username")
                    or values.get("email")
                    or f"token-{values.get('token', '')[:8]}"
                )
                account = Account(name=name)
                self.accounts.append(account)
            for key, value in values.items():
                setattr(account, key, value)
            if "limit" in data:
                account.limit = limit
            if "denied_types" in data:
                account.denied_types = list(denied)
            if "senders" in data:
                account.senders = list(data["senders"] or [])
            if "xml_numeric_errors" in data:
                account.xml_numeric_errors = bool(data["xml_numeric_errors"])
            self.changes += 1
            return account

    def _find_account(self, values: dict[str, Any]) -> Account | None:
        for account in self.accounts:
            for key in ("name", "token", "username", "email"):
                if values.get(key) and getattr(account, key) == values[key]:
                    return account
        return None

    def authenticate(
        self, token: str | None = None, username: str | None = None, password: str | None = None
    ) -> Account:
        """§1 (C): a Bearer token or username + password; 1001 otherwise."""
        with self.lock:
            for account in self.accounts:
                if token and account.token and account.token == token:
                    return account
                if (
                    username
                    and password
                    and account.username == username
                    and account.password == password
                ):
                    return account
        raise SimulatorError(1001)

    def account_by_email(self, email: str) -> Account | None:
        wanted = (email or "").strip().lower()
        with self.lock:
            for account in self.accounts:
                if account.email and account.email.lower() == wanted:
                    return account
        return None

    def account_named(self, name: str) -> Account | None:
        with self.lock:
            return next((a for a in self.accounts if a.name == name), None)
