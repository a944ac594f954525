"""Saving and loading the simulator's accounts and messages (a restarted demo keeps its history)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .accounts import Account
from .protocol import parse_time
from .schedule import FINAL
from .sending import Message


def _time(value: str | None):
    return parse_time(value) if value else None


class StateMixin:
    def dump_state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "seed": self.seed,
                "next_id": self._next_id,
                "accounts": [a.as_json() for a in self.accounts],
                "messages": [m.record() for m in self.messages.values()],
                "incoming": self.incoming_messages,
            }

    def load_state(self, state: dict[str, Any]) -> None:
        """Reload what dump_state saved; unfinished messages go on with their fates."""
        with self.lock:
            self._clear_messages()
            self.accounts = [Account(**a) for a in state.get("accounts", [])]
            self._next_id = int(state.get("next_id", 1))
            self.incoming_messages = dict(state.get("incoming") or {})
            now = self.now()
            for record in state.get("messages", []):
                message = Message(
                    id=record["id"],
                    account=record["account"],
                    channel=record["channel"],
                    ic=record["ic"],
                    phone=record["phone"],
                    text=record["text"],
                    sender=record["sender"],
                    type=record["type"],
                    parts=record["parts"],
                    unique_id=record.get("unique_id"),
                    status=record["status"],
                    queued=_time(record["queued"]),
                    sent=_time(record["sent"]),
                    delivered=_time(record["delivered"]),
                    changed=_time(record.get("changed")),
                    reason=record["reason"],
                    cost=None if record["cost"] is None else Decimal(record["cost"]),
                    flash=record["flash"],
                    utf=record["utf"],
                    scheduled=_time(record.get("scheduled")),
                    step=record.get("step", 0),
                )
                self._add(message)
                if message.status not in FINAL:
                    self._plan(message, now)
