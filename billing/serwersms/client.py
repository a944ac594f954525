"""SerwerSMS HTTPS API v2 (JSON over `requests`): sending, reports with batches and paging, view."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime

import requests
from django.conf import settings

from . import ic as ic_rules
from .errors import (
    MalformedResponse,
    RateLimited,
    error_class_for,
    http_error_class_for,
)
from .hooks import reports_answers
from .http import post
from .matching import ends_with_number, match_items
from .parsing import (
    format_time,
    id_or_none,
    parse_decimal,
    parse_int,
    parse_time,
    text_or_empty,
)
from .types import ReportItem, SendItem

SYSTEM = "partner_portal"


def _parse_send_item(raw: dict) -> SendItem:
    return SendItem(
        phone=text_or_empty(raw.get("phone")),
        status=text_or_empty(raw.get("status")).strip().lower(),
        serwersms_id=id_or_none(raw.get("id")),
        unique_id=id_or_none(raw.get("unique_id")),
        queued_at=parse_time(raw.get("queued")),
        parts=parse_int(raw.get("parts")),
        error_code=text_or_empty(raw.get("error_code")),  # an int (§3 C); kept as text
        error_message=text_or_empty(raw.get("error_message")),
    )


def parse_report_item(raw: dict) -> ReportItem:
    """One `messages/reports` / `messages/view` item."""
    serwersms_id = id_or_none(raw.get("id"))
    if serwersms_id is None:
        raise ValueError("a report item without an id")
    return ReportItem(
        serwersms_id=serwersms_id,
        phone=text_or_empty(raw.get("phone")),
        status=text_or_empty(raw.get("status")).strip().lower(),
        unique_id=id_or_none(raw.get("unique_id")),
        queued_at=parse_time(raw.get("queued")),
        sent_at=parse_time(raw.get("sent")),
        delivered_at=parse_time(raw.get("delivered")),
        parts=parse_int(raw.get("parts")),
        cost=parse_decimal(raw.get("cost")),
        reason=text_or_empty(raw.get("reason")),
        message_type=id_or_none(raw.get("type")),
        sender=text_or_empty(raw.get("sender")),
        text=text_or_empty(raw.get("text")),
    )


class ApiV2Client:
    """One SerwerSMS account over API v2; the partner's ic goes on sending actions only."""

    channel = ic_rules.API_V2

    def __init__(
        self,
        *,
        ic: int | None,
        token: str = "",
        username: str = "",
        password: str = "",
        base_url: str | None = None,
        timeout: float | None = None,
        session: requests.Session | None = None,
    ):
        if not token and not (username and password):
            raise ValueError("API v2 needs a token, or a username and a password.")
        self.ic = ic
        self.token = token
        self.username = username
        self.password = password
        self.base_url = (base_url or settings.SERWERSMS_API_URL).removesuffix("/") + "/"
        self.timeout = timeout if timeout is not None else settings.SERWERSMS_TIMEOUT
        self.session = session or requests.Session()

    @reports_answers  # listeners hear each answer (ops counts them: hooks.py)
    def call(self, action: str, params: dict | None = None) -> dict:
        """One API v2 action, one attempt: retries belong to the one policy (retry.py)."""
        body = {key: value for key, value in (params or {}).items() if value is not None}
        body["system"] = SYSTEM
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        else:
            body["username"] = self.username
            body["password"] = self.password
        body = ic_rules.with_ic(self.channel, action, body, self.ic)
        response = post(
            self.session,
            f"{self.base_url}{action}.json",
            json=body,
            headers=headers,
            timeout=self.timeout,
        )
        return self._parse(response)

    @staticmethod
    def _parse(response: requests.Response) -> dict:
        """The JSON object of an answer, else a typed error. §1-§2 (C): errors arrive as
        `{"error": {"code", "type", "message"}}`, with HTTP 200 (I); 429 and 5xx decide by
        themselves; any other non-200 without an envelope cannot be read."""
        status = response.status_code
        cls = http_error_class_for(status)
        if cls is not None:
            kwargs = {}
            if cls is RateLimited:  # an unreadable Retry-After is None (RateLimited's default)
                with contextlib.suppress(ValueError):
                    kwargs["retry_after"] = float(response.headers.get("Retry-After", ""))
            raise cls(
                None, f"SerwerSMS answered HTTP {status}: {response.text[:200]}", status, **kwargs
            )
        try:
            data = response.json()
        except ValueError:
            data = None
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            code = error.get("code")
            message = str(error.get("message") or error.get("type") or "")
            raise error_class_for(code)(code, message, status)
        if status != 200 or not isinstance(data, dict):
            raise MalformedResponse(
                None, f"SerwerSMS answered HTTP {status}: {response.text[:200]!r}", status
            )
        return data

    def _parse_send(
        self, data: dict, phones: Sequence[str], unique_ids: Sequence[str] | None
    ) -> list[SendItem]:
        """The items (asked for with `details`, §3) in the order of `phones`, matched by phone."""
        items = data.get("items")
        if data.get("success") is not True or not isinstance(items, list):
            raise MalformedResponse(None, f"A send answer without success/items: {data!r:.200}")
        try:
            parsed = [_parse_send_item(item) for item in items]
        except (ValueError, TypeError, AttributeError) as exc:
            raise MalformedResponse(None, f"A send answer item could not be read: {exc}") from exc
        return match_items(parsed, phones, unique_ids)

    def send_sms(
        self,
        phones: Sequence[str],
        text: str,
        sender: str | None = None,
        unique_ids: Sequence[str] | None = None,
        *,
        utf: bool = False,
        test: bool = False,
        date: datetime | None = None,
    ) -> list[SendItem]:
        params = {
            "phone": list(phones),
            "text": text,
            "sender": sender or None,
            "details": True,
            "utf": utf or None,
            "test": test or None,
            "date": format_time(date) if date else None,
            "unique_id": list(unique_ids) if unique_ids else None,
        }
        data = self.call("messages/send_sms", params)
        return self._parse_send(data, phones, unique_ids)

    def send_personalized(
        self,
        messages: Sequence[tuple[str, str]],
        sender: str | None = None,
        unique_ids: Sequence[str] | None = None,
        *,
        utf: bool = False,
        test: bool = False,
    ) -> list[SendItem]:
        params = {
            "messages": [{"phone": phone, "text": text} for phone, text in messages],
            "sender": sender or None,
            "details": True,
            "utf": utf or None,
            "test": test or None,
            "unique_id": list(unique_ids) if unique_ids else None,
        }
        data = self.call("messages/send_personalized", params)
        return self._parse_send(data, [phone for phone, _text in messages], unique_ids)

    def reports_page(self, page: int = 1, **filters) -> tuple[list[ReportItem], int]:
        """One page of `messages/reports`: its items and the number of pages."""
        params = {key: value for key, value in filters.items() if value not in (None, [], "")}
        params.setdefault("limit", settings.SERWERSMS_REPORTS_PAGE_LIMIT)
        params["page"] = page
        data = self.call("messages/reports", params)
        items = data.get("items", [])
        paging = data.get("paging") or {}
        try:
            if not isinstance(items, list):
                raise TypeError("items is not a list")
            pages = int(paging.get("count") or 1) if isinstance(paging, dict) else 1
            return [parse_report_item(item) for item in items], pages
        except (ValueError, TypeError, AttributeError) as exc:
            raise MalformedResponse(None, f"A reports answer could not be read: {exc}") from exc

    def reports(
        self,
        *,
        ids: Iterable[str] | None = None,
        unique_ids: Iterable[str] | None = None,
        phones: Iterable[str] | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        status: str | None = None,
        message_type: str | None = None,
        batch_size: int | None = None,
    ) -> Iterator[ReportItem]:
        """Every matching item: ids (or unique ids) in batches, each batch through all pages."""
        ids = list(ids or [])
        unique_ids = list(unique_ids or [])
        if ids and unique_ids:
            raise ValueError("Filter reports by ids or by unique ids, not both.")
        key, keys = ("id", ids) if ids else ("unique_id", unique_ids)
        filters = {
            "phone": list(phones) if phones else None,
            "date_from": format_time(date_from) if date_from else None,
            "date_to": format_time(date_to) if date_to else None,
            "status": status,
            "type": message_type,
        }
        if not keys:
            yield from self._all_pages(**filters)
        size = max(1, batch_size or settings.SERWERSMS_REPORTS_BATCH)
        for start in range(0, len(keys), size):
            yield from self._all_pages(**filters, **{key: keys[start : start + size]})

    def _all_pages(self, **filters) -> Iterator[ReportItem]:
        for page in itertools.count(1):
            items, pages = self.reports_page(page, **filters)
            yield from items
            if not items or page >= pages:
                return

    def view(self, serwersms_id: str) -> ReportItem:
        """`messages/view` by SerwerSMS id, as every official client sends it (not documented by
        unique_id): one unwrapped object (§3, C); NotFound (1004, I) for an unknown message."""
        if not serwersms_id:
            raise ValueError("view needs the SerwerSMS id of the message.")
        data = self.call("messages/view", {"id": serwersms_id})
        try:
            return parse_report_item(data)
        except (ValueError, TypeError, AttributeError) as exc:
            raise MalformedResponse(None, f"A view answer could not be read: {exc}") from exc

    def find_by_unique_id(self, unique_id: str, phone: str | None = None) -> ReportItem | None:
        """The message SerwerSMS keeps under our unique_id, or None when it surely has none.

        `messages/reports` filtered by `unique_id` (§3, C), one id per call: its items echo no
        unique_id. An item for another number than `phone`: the filter was not applied
        (MalformedResponse, nothing concluded). Two items (taken twice): the earliest.
        """
        items = list(self._all_pages(unique_id=unique_id))
        if phone and any(not ends_with_number(i.phone, phone) for i in items):
            raise MalformedResponse(
                None, f"messages/reports for unique_id {unique_id!r} named another number."
            )
        if not items:
            return None
        first = min(items, key=lambda i: (i.queued_at is None, i.queued_at, i.serwersms_id))
        return replace(first, unique_id=unique_id)

    def find_by_unique_ids(
        self, unique_ids: Iterable[str] | dict[str, str]
    ) -> dict[str, ReportItem]:
        """unique_id -> the message SerwerSMS has under it (absent when it surely has none); one
        `find_by_unique_id` call per id, and a dict gives each id's phone."""
        phones = unique_ids if isinstance(unique_ids, dict) else {}
        found = {
            uid: self.find_by_unique_id(uid, phones.get(uid)) for uid in dict.fromkeys(unique_ids)
        }
        return {uid: item for uid, item in found.items() if item is not None}

    def reports_for_phone(
        self, phone: str, *, date_from: datetime, date_to: datetime | None = None
    ) -> list[ReportItem]:
        """Every message to `phone` queued (or turned unsent) between the two times (§3, C)."""
        return list(self.reports(phones=[phone], date_from=date_from, date_to=date_to))
