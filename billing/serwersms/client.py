"""SerwerSMS HTTPS API v2 (JSON over `requests`): sending, reports with batches and paging, view."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

import requests
from django.conf import settings

from . import ic as ic_rules
from .errors import (
    MalformedResponse,
    RateLimited,
    ServerError,
    SerwerSMSError,
    TransportError,
    error_class_for,
)
from .http import post
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


def _batches(values: Sequence, size: int) -> Iterator[list]:
    for start in range(0, len(values), max(1, size)):
        yield list(values[start : start + max(1, size)])


def _parse_send_item(raw: dict) -> SendItem:
    return SendItem(
        phone=text_or_empty(raw.get("phone")),
        status=text_or_empty(raw.get("status")).strip().lower(),
        serwersms_id=id_or_none(raw.get("id")),
        unique_id=id_or_none(raw.get("unique_id")),
        queued_at=parse_time(raw.get("queued")),
        parts=parse_int(raw.get("parts")),
        error_code=text_or_empty(raw.get("error_code")),
        error_message=text_or_empty(raw.get("error_message")),
    )


def parse_report_item(raw: dict) -> ReportItem:
    """One `messages/reports` / `messages/view` item (also used for callbacks' shape)."""
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
        base = base_url or settings.SERWERSMS_API_URL
        self.base_url = base if base.endswith("/") else base + "/"
        self.timeout = timeout if timeout is not None else settings.SERWERSMS_TIMEOUT
        self.session = session or requests.Session()

    # --- transport ---------------------------------------------------------------------------

    def _request_once(self, action: str, params: dict) -> dict:
        body = {key: value for key, value in params.items() if value is not None}
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
        status = response.status_code
        try:
            data = response.json()
        except ValueError:
            data = None
        error = data.get("error") if isinstance(data, dict) else None
        if status >= 400 or error or (isinstance(data, dict) and data.get("success") is False):
            error = error if isinstance(error, dict) else {}
            cls = error_class_for(error.get("code"), str(error.get("type") or ""), status)
            if cls is SerwerSMSError and status < 400 and not error:
                cls = MalformedResponse
            message = str(error.get("message") or "") or (
                f"SerwerSMS answered HTTP {status}: {response.text[:200]}"
            )
            kwargs = {}
            if cls is RateLimited:
                kwargs["retry_after"] = _retry_after(response)
            raise cls(error.get("code"), message, status, **kwargs)
        if not isinstance(data, dict):
            raise MalformedResponse(
                None,
                f"SerwerSMS answered something that is not a JSON object: {response.text[:200]!r}",
                status,
            )
        return data

    def call(self, action: str, params: dict | None = None) -> dict:
        """One API v2 action; retried only when SerwerSMS surely did nothing, or it is a read."""
        sending = ic_rules.is_sending(self.channel, action)
        attempts = 1 + max(0, settings.SERWERSMS_RETRIES)
        for attempt in range(attempts):
            try:
                return self._request_once(action, params or {})
            except (RateLimited, TransportError, ServerError) as exc:
                retry_safe = isinstance(exc, RateLimited) or not exc.may_have_been_sent
                if sending and isinstance(exc, ServerError):
                    retry_safe = False  # a 5xx after a send: do not risk sending twice
                if not sending:
                    retry_safe = True  # reading twice is harmless
                if not retry_safe or attempt == attempts - 1:
                    raise
                delay = getattr(exc, "retry_after", None) or 0.2 * 2**attempt
                time.sleep(min(delay, 5.0))
        raise AssertionError("unreachable")

    # --- sending -----------------------------------------------------------------------------

    def _parse_send(self, data: dict, expected: int) -> list[SendItem]:
        items = data.get("items")
        if data.get("success") is not True or not isinstance(items, list):
            raise MalformedResponse(None, f"A send answer without success/items: {data!r:.200}")
        try:
            parsed = [_parse_send_item(item) for item in items]
        except (ValueError, TypeError, AttributeError) as exc:
            raise MalformedResponse(None, f"A send answer item could not be read: {exc}") from exc
        if len(parsed) != expected:
            raise MalformedResponse(
                None, f"SerwerSMS answered {len(parsed)} items for {expected} recipients."
            )
        return parsed

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
        return self._parse_send(self.call("messages/send_sms", params), len(phones))

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
        return self._parse_send(self.call("messages/send_personalized", params), len(messages))

    # --- reading -----------------------------------------------------------------------------

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
        batches = _batches(keys, batch_size or settings.SERWERSMS_REPORTS_BATCH) if keys else [None]
        for batch in batches:
            batch_filters = dict(filters)
            if batch is not None:
                batch_filters[key] = batch
            page, pages = 1, 1
            while page <= pages:
                items, pages = self.reports_page(page, **batch_filters)
                yield from items
                if not items:
                    break
                page += 1

    def view(self, serwersms_id: str | None = None, unique_id: str | None = None) -> ReportItem:
        if not serwersms_id and not unique_id:
            raise ValueError("view needs an id or a unique_id.")
        data = self.call("messages/view", {"id": serwersms_id, "unique_id": unique_id})
        # The item itself, or wrapped as {"item": ...} / {"items": [...]}.
        if isinstance(data.get("items"), list) and data["items"]:
            data = data["items"][0]
        elif isinstance(data.get("item"), dict):
            data = data["item"]
        try:
            return parse_report_item(data)
        except (ValueError, TypeError, AttributeError) as exc:
            raise MalformedResponse(None, f"A view answer could not be read: {exc}") from exc


def _retry_after(response: requests.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
