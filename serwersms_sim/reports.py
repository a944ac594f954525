"""Reading what was sent (§3 messages/reports, view, delete; account/limits; incoming; senders;
phone checks; §4 sprawdz_sms) and the partner billing SerwerSMS would produce (§7).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable
from typing import Any

from . import numbers, texts
from .accounts import Account
from .protocol import (
    WARSAW,
    ControlError,
    SimulatorError,
    as_bool,
    as_list,
    format_time,
    parse_time,
)
from .schedule import COUNTED, PENDING
from .sending import Message

MAX_IDS = 500  # §3 (C): `id` string or array (≤ 500)
DEFAULT_LIMIT = 20  # §3: default not found; WP uses 20 (I)
MAX_LIMIT = 500  # I
# §3 (C): the status filter's words; `pending` is "taken, awaiting delivery", i.e. `sent` (I).
STATUS_FILTERS = {
    "delivered": {"delivered"},
    "undelivered": {"undelivered"},
    "sent": {"sent"},
    "pending": {"sent"},
    "unsent": {"unsent"},
    "in_progress": {"queued", "in_progress"},
    "saved": {"saved"},
}
TYPES = ("eco", "full", "mms", "voice")
INCOMING_TYPES = ("eco", "nd", "ndi", "mms")


def _positive_int(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SimulatorError(1006, f"{name} must be a positive integer.") from None
    if number < 1:
        raise SimulatorError(1006, f"{name} must be a positive integer.")
    return number


class ReportsMixin:
    """Reports, lookups and the other read actions of one account."""

    def reports(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        """`messages/reports`: filters, paging (`count` = number of pages, §3 C)."""
        ids = as_list(params.get("id"))
        if len(ids) > MAX_IDS:
            raise SimulatorError(1006, f"At most {MAX_IDS} ids per call, got {len(ids)}.")
        unique_ids = as_list(params.get("unique_id"))
        phones = as_list(params.get("phone"))
        page = _positive_int(params.get("page"), "page", 1)
        limit = min(_positive_int(params.get("limit"), "limit", DEFAULT_LIMIT), MAX_LIMIT)
        order = str(params.get("order") or "asc").lower()
        if order not in ("asc", "desc"):
            raise SimulatorError(1006, "order must be asc or desc.")
        status = str(params.get("status") or "").lower()
        if status and status not in STATUS_FILTERS:
            raise SimulatorError(1006, f"Unknown status filter {status!r}.")
        wanted_type = str(params.get("type") or "").lower()
        if wanted_type and wanted_type not in TYPES:
            raise SimulatorError(1006, f"Unknown type filter {wanted_type!r}.")
        date_from = parse_time(params["date_from"]) if params.get("date_from") else None
        date_to = parse_time(params["date_to"], end_of_day=True) if params.get("date_to") else None
        with self.lock:
            selected = [
                m
                for m in self._candidates(account, ids, unique_ids, phones)
                if (not status or m.status in STATUS_FILTERS[status])
                and (not wanted_type or m.type == wanted_type)
                # §3 (C): the dates filter on queue time, or the time moved to unsent.
                and (date_from is None or _filter_time(m) >= date_from)
                and (date_to is None or _filter_time(m) <= date_to)
            ]
            selected.sort(key=lambda m: (m.queued, m.id), reverse=order == "desc")
            start = (page - 1) * limit
            items = [m.report_item() for m in selected[start : start + limit]]
        return {"paging": {"page": page, "count": math.ceil(len(selected) / limit)}, "items": items}

    def _candidates(
        self, account: Account, ids: list[str], unique_ids: list[str], phones: list[str]
    ) -> list[Message]:
        """Messages of `account` matching every filter given (all of its messages if none)."""
        if ids:
            found = (self.messages.get(i) for i in dict.fromkeys(ids))
            pool = [m for m in found if m is not None and m.account == account.name]
        elif unique_ids:
            pool = self._lookup(self._by_unique_id, account, unique_ids)
        elif phones:
            pool = self._lookup(self._by_phone, account, [numbers.same_or_raw(p) for p in phones])
        else:
            pool = [self.messages[i] for i in self._by_account.get(account.name, ())]
        if unique_ids:
            wanted = set(unique_ids)
            pool = [m for m in pool if m.unique_id in wanted]
        if phones:
            wanted = {numbers.same_or_raw(p) for p in phones}
            pool = [m for m in pool if m.phone in wanted]
        return pool

    def _lookup(self, index: dict, account: Account, keys: Iterable[str]) -> list[Message]:
        seen: dict[str, Message] = {}
        for key in keys:
            for message_id in index.get((account.name, key), ()):
                message = self.messages.get(message_id)
                if message is not None:
                    seen[message_id] = message
        return list(seen.values())

    def view(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        """`messages/view`: `id` is required (every official client sends it, §3 C; `unique_id`
        only narrows it): one unwrapped object. No `id` -> 2000 ValidationRequiredError, the
        §2 code for a missing required field; an id it does not know -> 1004 InvalidID (I)."""
        ids, unique_ids = as_list(params.get("id")), as_list(params.get("unique_id"))
        if not ids:
            raise SimulatorError(2000, "Give the id of the message.")
        with self.lock:
            found = self._candidates(account, ids[:1], unique_ids[:1], [])
            if not found:
                raise SimulatorError(1004, "No such message.")
            return found[-1].view_item()

    def delete(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        """`messages/delete`: scheduled only; `{"success": false}` otherwise, never an error (C)."""
        ids, unique_ids = as_list(params.get("id")), as_list(params.get("unique_id"))
        with self.lock:
            found = self._candidates(account, ids, [], []) if ids else []
            found += self._candidates(account, [], unique_ids, []) if unique_ids else []
            removable = [m for m in found if m.status == "saved"]
            if not removable:
                return {"success": False}
            for message in removable:
                self.messages.pop(message.id, None)
                self._active.pop(message.id, None)
                self._by_account[message.account].remove(message.id)
                if account.limit is not None:
                    account.limit += message.parts
            self.changes += 1
        return {"success": True}

    def limits(self, account: Account, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """`account/limits` (§3, C): `value` a string; `account` only with `show_type`."""
        items = []
        for kind in ("eco", "full", "mms", "voice", "lookup", "hlr"):
            if kind in account.denied_types:
                value = "not_available"
            elif account.limit is None:
                value = "no_limit"
            else:
                value = str(account.limit)
            if kind in ("eco", "full"):
                limit = texts.chars_limit(self.max_parts)
            elif kind == "voice":
                limit = "160/1"
            else:
                limit = "0/1"
            items.append({"type": kind, "chars_limit": limit, "value": value})
        answer: dict[str, Any] = {"items": items}
        if params and as_bool(params.get("show_type")):
            answer = {"account": {"type": "prepaid"}, **answer}
        return answer

    def incoming(self, account: Account, params: dict[str, Any], field: str) -> dict[str, Any]:
        """`messages/recived` (field `recived`) or `messages/received` (field `received`)."""
        kind = str(params.get("type") or "").lower()
        if kind not in INCOMING_TYPES:
            raise SimulatorError(1006, f"type must be one of {', '.join(INCOMING_TYPES)}.")
        page = _positive_int(params.get("page"), "page", 1)
        limit = min(_positive_int(params.get("limit"), "limit", DEFAULT_LIMIT), MAX_LIMIT)
        with self.lock:
            rows = [r for r in self.incoming_messages.get(account.name, []) if r["type"] == kind]
        if params.get("phone"):
            rows = [r for r in rows if r["phone"] == numbers.same_or_raw(params["phone"])]
        start = (page - 1) * limit
        items = [
            {
                "id": r["id"],
                "type": r["type"],
                "phone": r["phone"],
                field: r["at"],
                "message_id": None,
                "blacklist": False,
                "text": r["text"],
            }
            for r in rows[start : start + limit]
        ]
        return {"paging": {"page": page, "count": math.ceil(len(rows) / limit)}, "items": items}

    def receive(self, account: Account, phone: str, text: str, kind: str, to: str = "") -> dict:
        """Record an incoming message (send_nd / send_ndi, the control surface)."""
        with self.lock:
            rows = self.incoming_messages.setdefault(account.name, [])
            row = {
                "id": len(rows) + 1,
                "type": kind,
                "phone": numbers.same_or_raw(phone),
                "text": text,
                "to": to,
                "at": format_time(self.now()),
            }
            rows.append(row)
            self.changes += 1
        return row

    def add_sender(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params.get("name") or "").strip()
        if not re.fullmatch(r"[A-Za-z0-9 ]{1,11}", name):
            raise SimulatorError(1006, "A sender name is 1-11 letters, digits or spaces.")
        with self.lock:
            if all(s["name"] != name for s in account.senders):
                account.senders.append(
                    {"name": name, "agreement": "not_required", "status": "authorized"}
                )
                self.changes += 1
        return {"success": True}

    def list_senders(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        items = sorted(account.senders, key=lambda s: s["name"])
        if str(params.get("order") or "asc").lower() == "desc":
            items.reverse()
        return {"items": items}

    def check_phone(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        """`phones/check` (HLR): the documented fields (values I)."""
        if not params.get("phone"):
            raise SimulatorError(2000, "Give phone.")
        phone = numbers.normalize(str(params["phone"]))
        if phone is None:
            raise SimulatorError(2001)
        return {
            "phone": phone,
            "status": "active",
            "imsi": int("260" + phone[-9:]) if phone.startswith("+48") else None,
            "network": "Simulated",
            "ported": False,
            "network_ported": None,
        }

    def test_phone(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        """`phones/test`: `{"correct": bool}`."""
        return {"correct": numbers.normalize(str(params.get("phone") or "")) is not None}

    def find(self, account: Account, ids: list[str], unique_ids: list[str], phones: list[str]):
        """Messages of `account` by id, unique_id or phone, oldest first."""
        with self.lock:
            return sorted(
                self._candidates(account, ids, unique_ids, phones), key=lambda m: (m.queued, m.id)
            )

    # --- the simulator's own records ------------------------------------------------------

    def message_records(self, **filters: Any) -> list[dict[str, Any]]:
        """Every message as a record; exact filters on record fields (ic, unique_id, phone...)."""
        with self.lock:
            records = [m.record() for m in self.messages.values()]
        for key, value in filters.items():
            if key == "phone":
                value = numbers.same_or_raw(value)
            records = [r for r in records if str(r.get(key)) == str(value)]
        return records

    def billing_csv(self, ic: int, period: str) -> str:
        """What SerwerSMS billed for `ic` in `period` (YYYY-MM): counted messages by dispatch."""
        match = re.fullmatch(r"(\d{4})-(\d{2})", period or "")
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise ControlError("period must be YYYY-MM.")
        year, month = int(match.group(1)), int(match.group(2))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ["id", "account", "phone", "type", "parts", "status", "dispatched_at", "cost", "ic"]
        )
        with self.lock:
            rows = []
            for message_id in self._by_ic.get(ic, ()):
                message = self.messages.get(message_id)
                if message is None or message.status not in COUNTED:
                    continue
                dispatched = (message.sent or message.queued).astimezone(WARSAW)
                if (dispatched.year, dispatched.month) != (year, month):
                    continue
                rows.append((dispatched, message))
        rows.sort(key=lambda row: (row[0], row[1].id))
        for dispatched, m in rows:
            writer.writerow(
                [
                    m.id,
                    m.account,
                    m.phone,
                    m.type,
                    m.parts,
                    m.status,
                    format_time(dispatched),
                    "" if m.cost is None else f"{m.cost:.4f}",
                    m.ic,
                ]
            )
        return out.getvalue()


def _filter_time(message: Message):
    if message.status == "unsent" and message.changed is not None:
        return message.changed
    return message.queued


__all__ = ["PENDING", "ReportsMixin"]
