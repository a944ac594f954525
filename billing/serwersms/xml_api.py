"""SerwerSMS HTTPS XML API (`/zdalnie/`, serwersms-api.md §4): `wyslij_sms` and `sprawdz_sms`.

Answers are parsed with defusedxml (no entity expansion, no external entities). `<Blad>` has no
attributes: its text is a message, or a number when the panel is set so (§4, C).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from xml.etree.ElementTree import Element

import requests
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from django.conf import settings

from . import ic as ic_rules
from .errors import XML_CODES, MalformedResponse, error_class_for, http_error_class_for
from .hooks import reports_answers
from .http import post
from .matching import match_items
from .parsing import format_time, id_or_none, parse_int, parse_time, text_or_empty
from .types import ReportItem, SendItem

# `stan` of sprawdz_sms in SerwerSMS's API v2 words (the words our Status uses). Only `wyslane`
# is confirmed (§4); the others are inferred, in both forms, and can be replaced by the setting
# SERWERSMS_XML_STAN_WORDS (docs/gateway.md).
DEFAULT_STAN_TO_STATUS = {
    "w_trakcie": "in_progress",
    **dict.fromkeys(("skolejkowana", "skolejkowane"), "queued"),
    **dict.fromkeys(("zaplanowana", "zaplanowane"), "saved"),
    **dict.fromkeys(("wyslana", "wyslane"), "sent"),
    **dict.fromkeys(("doreczona", "doreczone"), "delivered"),
    **dict.fromkeys(("niedoreczona", "niedoreczone"), "undelivered"),
    **dict.fromkeys(("niewyslana", "niewyslane"), "unsent"),
}


class XmlApiClient:
    """One SerwerSMS account over the XML API (login + password only)."""

    channel = ic_rules.XML_API

    def __init__(
        self,
        *,
        ic: int | None,
        username: str,
        password: str,
        url: str | None = None,
        timeout: float | None = None,
        session: requests.Session | None = None,
    ):
        if not (username and password):
            raise ValueError("The XML API needs a username and a password.")
        self.ic = ic
        self.username = username
        self.password = password
        self.url = url or settings.SERWERSMS_XML_API_URL
        self.timeout = timeout if timeout is not None else settings.SERWERSMS_TIMEOUT
        self.session = session or requests.Session()

    @reports_answers  # listeners hear each answer (ops counts them: hooks.py)
    def call(self, action: str, fields: dict) -> Element:
        form = {key: str(value) for key, value in fields.items() if value not in (None, "")}
        form.update({"login": self.username, "haslo": self.password, "akcja": action})
        form = ic_rules.with_ic(self.channel, action, form, self.ic)
        response = post(self.session, self.url, data=form, timeout=self.timeout)
        status = response.status_code
        cls = http_error_class_for(status)
        if cls is not None:
            raise cls(None, f"SerwerSMS answered HTTP {status}.", status)
        try:
            root = fromstring(response.content)
        except (ParseError, DefusedXmlException, ValueError) as exc:
            raise MalformedResponse(
                None, f"SerwerSMS answered XML that cannot be read: {exc}", status
            ) from exc
        error = root if root.tag == "Blad" else root.find(".//Blad")
        if error is not None:
            text = (error.text or "").strip()
            code = text if text.isdigit() else None
            message = text or "SerwerSMS reported an error."
            raise error_class_for(code, XML_CODES)(code, message, status)
        if status != 200 or root.tag != "SerwerSMS":
            raise MalformedResponse(
                None, f"Unexpected answer: HTTP {status}, <{root.tag}>.", status
            )
        return root

    def send_sms(
        self,
        phones: Sequence[str],
        text: str,
        sender: str | None = None,
        unique_ids: Sequence[str] | None = None,
    ) -> list[SendItem]:
        """`wyslij_sms`; items in the order of `phones`, matched by number (the answer lists
        queued and unsent numbers apart and echoes no usmsid, §4)."""
        root = self.call(
            "wyslij_sms",
            {
                "numer": ",".join(phones),
                "wiadomosc": text,
                "nadawca": sender or None,
                "usmsid": ",".join(unique_ids) if unique_ids else None,
            },
        )
        recipients = root.find("Odbiorcy")
        if recipients is None:
            raise MalformedResponse(None, "A wyslij_sms answer without <Odbiorcy>.")
        try:
            items = [
                _send_item(element, "queued") for element in recipients.findall("Skolejkowane/SMS")
            ]
        except ValueError as exc:
            raise MalformedResponse(None, f"A wyslij_sms answer could not be read: {exc}") from exc
        items += [_send_item(element, "unsent") for element in recipients.findall("Niewyslane/SMS")]
        return match_items(items, phones, None)

    def sprawdz_sms(
        self,
        smsids: Sequence[str] | None = None,
        phones: Sequence[str] | None = None,
        *,
        date_from: datetime | None = None,
    ) -> list[ReportItem]:
        """Status check by SerwerSMS ids, or by numbers since a time (`smsid`, `numer`, `data_od`;
        `data_do` too, §4 C). There is no documented lookup by our usmsid."""
        if not smsids and not phones:
            raise ValueError("sprawdz_sms needs SerwerSMS ids or phone numbers.")
        root = self.call(
            "sprawdz_sms",
            {
                "smsid": ",".join(smsids) if smsids else None,
                "numer": ",".join(phones) if phones else None,
                "data_od": format_time(date_from) if date_from else None,
            },
        )
        try:
            return [_report_from_xml(element) for element in root.iter("SMS")]
        except ValueError as exc:
            raise MalformedResponse(None, f"A sprawdz_sms answer could not be read: {exc}") from exc


def _send_item(element: Element, status: str) -> SendItem:
    """A `<Skolejkowane>` (queued, with its time) or `<Niewyslane>` (unsent, with why) `<SMS>`."""
    reason = text_or_empty(element.get("przyczyna")) if status == "unsent" else ""
    queued_at = element.get("godzina_skolejkowania") if status == "queued" else None
    return SendItem(
        phone=text_or_empty(element.get("numer")),
        status=status,
        serwersms_id=id_or_none(element.get("id")),
        queued_at=parse_time(queued_at),
        error_code=reason,
        error_message=reason,
    )


def _report_from_xml(element: Element) -> ReportItem:
    serwersms_id = id_or_none(element.get("id"))
    if serwersms_id is None:
        raise ValueError("an <SMS> without an id")
    stan = text_or_empty(element.get("stan")).strip().lower()
    words = settings.SERWERSMS_XML_STAN_WORDS or DEFAULT_STAN_TO_STATUS
    return ReportItem(
        serwersms_id=serwersms_id,
        phone=text_or_empty(element.get("numer")),
        status=words.get(stan, stan),
        unique_id=id_or_none(element.get("usmsid")),
        queued_at=parse_time(element.get("godzina_skolejkowania")),
        sent_at=parse_time(element.get("godzina_wyslania")),
        delivered_at=parse_time(element.get("godzina_doreczenia")),
        parts=parse_int(element.get("czesci")),
        reason=text_or_empty(element.get("przyczyna")),
    )
