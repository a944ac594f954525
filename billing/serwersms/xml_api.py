"""SerwerSMS HTTPS XML API (`/zdalnie/`): `wyslij_sms` and the `sprawdz_sms` status check.

Answers are parsed with defusedxml (no entity expansion, no external entities).
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.etree.ElementTree import Element

import requests
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from django.conf import settings

from . import ic as ic_rules
from .errors import MalformedResponse, SerwerSMSError, error_class_for
from .http import post, raise_for_http_status
from .parsing import id_or_none, parse_int, parse_time, text_or_empty
from .types import ReportItem, SendItem

# `stan` of sprawdz_sms in SerwerSMS's API v2 words (the words our Status uses).
STAN_TO_STATUS = {
    "skolejkowana": "queued",
    "w_trakcie": "in_progress",
    "zaplanowana": "saved",
    "zaplanowane": "saved",
    "wyslana": "sent",
    "wyslane": "sent",
    "doreczona": "delivered",
    "doreczone": "delivered",
    "niedoreczona": "undelivered",
    "niedoreczone": "undelivered",
    "niewyslana": "unsent",
    "niewyslane": "unsent",
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

    def call(self, action: str, fields: dict) -> Element:
        form = {key: str(value) for key, value in fields.items() if value not in (None, "")}
        form.update({"login": self.username, "haslo": self.password, "akcja": action})
        form = ic_rules.with_ic(self.channel, action, form, self.ic)
        response = post(self.session, self.url, data=form, timeout=self.timeout)
        try:
            root = fromstring(response.content)
        except (ParseError, DefusedXmlException, ValueError) as exc:
            raise_for_http_status(response)
            raise MalformedResponse(
                None, f"SerwerSMS answered XML that cannot be read: {exc}", response.status_code
            ) from exc
        error = root if root.tag == "Blad" else root.find(".//Blad")
        if error is not None:
            code = error.get("kod") or error.get("code")
            message = (error.text or "").strip() or "SerwerSMS reported an error."
            cls = error_class_for(code, "", response.status_code)
            if cls is SerwerSMSError and response.status_code < 400:
                cls = error_class_for(code, "", None)
            raise cls(code, message, response.status_code)
        raise_for_http_status(response)
        if response.status_code >= 400:
            cls = error_class_for(None, "", response.status_code)
            raise cls(
                None, f"SerwerSMS answered HTTP {response.status_code}.", response.status_code
            )
        if root.tag != "SerwerSMS":
            raise MalformedResponse(
                None, f"Unexpected XML root <{root.tag}>.", response.status_code
            )
        return root

    def send_sms(
        self,
        phones: Sequence[str],
        text: str,
        sender: str | None = None,
        unique_ids: Sequence[str] | None = None,
        *,
        test: bool = False,
    ) -> list[SendItem]:
        """`wyslij_sms`; items in the order of `phones` (matched by usmsid, else number)."""
        root = self.call(
            "wyslij_sms",
            {
                "numer": ",".join(phones),
                "wiadomosc": text,
                "nadawca": sender or None,
                "usmsid": ",".join(unique_ids) if unique_ids else None,
                "test": "1" if test else None,
            },
        )
        recipients = root.find("Odbiorcy")
        if recipients is None:
            raise MalformedResponse(None, "A wyslij_sms answer without <Odbiorcy>.")
        items: list[SendItem] = []
        try:
            for element in recipients.findall("Skolejkowane/SMS"):
                items.append(
                    SendItem(
                        phone=text_or_empty(element.get("numer")),
                        status="queued",
                        serwersms_id=id_or_none(element.get("id")),
                        unique_id=id_or_none(element.get("usmsid")),
                        queued_at=parse_time(element.get("godzina_skolejkowania")),
                        parts=parse_int(element.get("czesci")),
                    )
                )
            for element in recipients.findall("Niewyslane/SMS"):
                reason = text_or_empty(element.get("przyczyna"))
                items.append(
                    SendItem(
                        phone=text_or_empty(element.get("numer")),
                        status="unsent",
                        serwersms_id=id_or_none(element.get("id")),
                        unique_id=id_or_none(element.get("usmsid")),
                        error_code=reason,
                        error_message=reason,
                    )
                )
        except ValueError as exc:
            raise MalformedResponse(None, f"A wyslij_sms answer could not be read: {exc}") from exc
        if len(items) != len(phones):
            raise MalformedResponse(
                None, f"SerwerSMS answered {len(items)} items for {len(phones)} recipients."
            )
        return _in_order(items, phones, unique_ids)

    def sprawdz_sms(
        self, smsids: Sequence[str] | None = None, usmsids: Sequence[str] | None = None
    ) -> list[ReportItem]:
        """Status check by SerwerSMS ids or by our unique ids (`usmsid`)."""
        if not smsids and not usmsids:
            raise ValueError("sprawdz_sms needs SerwerSMS ids or unique ids.")
        root = self.call(
            "sprawdz_sms",
            {
                "smsid": ",".join(smsids) if smsids else None,
                "usmsid": ",".join(usmsids) if usmsids else None,
            },
        )
        try:
            return [_report_from_xml(element) for element in root.iter("SMS")]
        except ValueError as exc:
            raise MalformedResponse(None, f"A sprawdz_sms answer could not be read: {exc}") from exc


def _report_from_xml(element: Element) -> ReportItem:
    serwersms_id = id_or_none(element.get("id"))
    if serwersms_id is None:
        raise ValueError("an <SMS> without an id")
    stan = text_or_empty(element.get("stan")).strip().lower()
    return ReportItem(
        serwersms_id=serwersms_id,
        phone=text_or_empty(element.get("numer")),
        status=STAN_TO_STATUS.get(stan, stan),
        unique_id=id_or_none(element.get("usmsid")),
        queued_at=parse_time(element.get("godzina_skolejkowania")),
        sent_at=parse_time(element.get("godzina_wyslania")),
        delivered_at=parse_time(element.get("godzina_doreczenia")),
        parts=parse_int(element.get("czesci")),
        reason=text_or_empty(element.get("przyczyna")),
    )


def _in_order(
    items: list[SendItem], phones: Sequence[str], unique_ids: Sequence[str] | None
) -> list[SendItem]:
    """Queued and unsent come in two lists; put them back in the order we asked."""
    remaining = list(items)
    ordered = []
    for index, phone in enumerate(phones):
        wanted = unique_ids[index] if unique_ids else None
        match = next((i for i in remaining if wanted and i.unique_id == wanted), None)
        if match is None:
            match = next((i for i in remaining if _same_number(i.phone, phone)), None)
        if match is None:
            raise MalformedResponse(None, f"The answer has no item for {phone}.")
        remaining.remove(match)
        ordered.append(match)
    return ordered


def _same_number(answered: str, asked: str) -> bool:
    digits = "".join(ch for ch in answered if ch.isdigit())
    wanted = "".join(ch for ch in asked if ch.isdigit())
    return bool(digits) and (digits == wanted or wanted.endswith(digits) or digits.endswith(wanted))
