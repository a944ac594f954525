"""The HTTPS XML API (§4): `/zdalnie/index.php`, GET or POST form, `login`, `haslo`, `akcja`.

C: wyslij_sms answers `<SerwerSMS login><Wiadomosc/><Odbiorcy><Skolejkowane><SMS id numer
godzina_skolejkowania/>…<Niewyslane><SMS id numer przyczyna/>`; sprawdz_sms takes smsid, numer,
data_od, data_do, stan and answers `<SMS id numer stan przyczyna/>`; ilosc_sms, sprawdz_odpowiedzi,
usun_zaplanowane as documented; failures `<SerwerSMS><Blad>…</Blad></SerwerSMS>`, text by default,
numbers when the account asks for them. `demo`/`demo` acts as test=1.
I: the `stan` words other than `wyslane` (STAN below, docs/simulator.md).
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from .accounts import Account
from .api_v2 import send_request
from .core import Simulator
from .protocol import (
    XML_CODES,
    XML_MISSING_LOGIN,
    SimulatorError,
    as_bool,
    as_list,
    format_time,
    parse_time,
)

# I: the report words, in the form of the one confirmed filter word `wyslane`.
STAN = {
    "queued": "skolejkowane",
    "in_progress": "w_trakcie",
    "saved": "zaplanowane",
    "sent": "wyslane",
    "delivered": "doreczone",
    "undelivered": "niedoreczone",
    "unsent": "niewyslane",
}
STAN_FILTER = {word: {status} for status, word in STAN.items()}
STAN_FILTER["skolejkowane"] = {"queued", "in_progress"}
REPLY_TYPES = {"1": "eco", "2": "nd", "3": "ndi", "4": "premium", "5": "mms"}
DEMO = ("demo", "demo")


class XmlError(Exception):
    """A `<Blad>` answer: its text, and its number when the panel asks for numbers."""

    def __init__(self, text: str, number: int | None, numeric: bool = False):
        self.text, self.number, self.numeric = text, number, numeric


def handle(sim: Simulator, params: dict[str, Any]) -> bytes:
    """The XML document for one call; failures are `<Blad>` with HTTP 200."""
    try:
        return _document(_answer(sim, params))
    except XmlError as error:
        return error_document(error.text, error.number, numeric=error.numeric)
    except SimulatorError as error:
        return error_document(error.message, XML_CODES.get(error.code), numeric=False)


def error_document(text: str, number: int | None, *, numeric: bool) -> bytes:
    root = ET.Element("SerwerSMS")
    ET.SubElement(root, "Blad").text = str(number) if numeric and number else text
    return _document(root)


def _document(root: ET.Element) -> bytes:
    declaration = b'<?xml version="1.0" encoding="UTF-8"?>\n'
    return declaration + ET.tostring(root, encoding="unicode").encode()


def _answer(sim: Simulator, params: dict[str, Any]) -> ET.Element:
    login, password = params.get("login"), params.get("haslo")
    if not login or not password:
        raise XmlError("Brak loginu lub hasła.", XML_MISSING_LOGIN)
    demo = (login, password) == DEMO
    try:
        account = sim.authenticate(username=login, password=password) if not demo else None
    except SimulatorError:
        raise XmlError("Nieprawidłowy login lub hasło.", 101) from None
    if demo:
        account = Account(name="demo", username="demo", password="demo")
    try:
        return _action(sim, account, params, demo)
    except SimulatorError as error:
        if account.xml_numeric_errors and XML_CODES.get(error.code):
            raise XmlError(error.message, XML_CODES[error.code], numeric=True) from None
        raise


def _action(sim: Simulator, account: Account, params: dict[str, Any], demo: bool) -> ET.Element:
    action = params.get("akcja") or ""
    root = ET.Element("SerwerSMS", login=account.username)
    if action == "wyslij_sms":
        return _send(sim, account, params, root, demo)
    if action == "sprawdz_sms":
        return _check(sim, account, params, root)
    if action == "ilosc_sms":
        limits = {item["type"]: item for item in sim.limits(account)["items"]}
        for kind in ("eco", "full"):
            value = limits[kind]["value"]
            ET.SubElement(
                root, "SMS", typ=kind.upper(), limit_znakow=limits[kind]["chars_limit"]
            ).text = "0" if value == "not_available" else value
        ET.SubElement(root, "KONTO").text = "PREPAID"
        return root
    if action == "sprawdz_odpowiedzi":
        kind = REPLY_TYPES.get(str(params.get("typ") or "1"), "eco")
        for row in sim.incoming_messages.get(account.name, []):
            if row["type"] == kind:
                ET.SubElement(
                    root,
                    "SMS",
                    id=str(row["id"]),
                    numer=row["phone"],
                    data=row["at"],
                    tresc=row["text"],
                    na_numer=row.get("to", ""),
                )
        return root
    if action == "usun_zaplanowane":
        ids, unique_ids = as_list(params.get("smsid")), as_list(params.get("usmsid"))
        for key, value in [("id", i) for i in ids] + [("unique_id", u) for u in unique_ids]:
            answer = sim.delete(account, {key: value})
            attribute = "smsid" if key == "id" else "usmsid"
            ET.SubElement(root, "ZAPLANOWANE", {attribute: value}).text = (
                "OK" if answer["success"] else "ERR"
            )
        return root
    raise XmlError("Brak akcji.", 106)


def _send(sim, account, params, root: ET.Element, demo: bool) -> ET.Element:
    personalized = params.get("spersonalizowane")
    if personalized:
        fields: dict[str, Any] = {"messages": personalized}
        kind = "personalized"
    else:
        fields = {"phone": as_list(params.get("numer")), "text": params.get("wiadomosc")}
        kind = "voice" if as_bool(params.get("glosowy")) else "sms"
        if as_bool(params.get("mms")):
            kind, fields["title"] = "mms", params.get("wiadomosc")
    fields.update(
        sender=params.get("nadawca") or "",
        unique_id=as_list(params.get("usmsid")) or None,
        test=demo or as_bool(params.get("test")),
        ic=params.get("ic"),
        date=params.get("data_wysylki"),
    )
    request = send_request(kind, fields, channel="xml_api")
    if demo:
        request.test = True
        outcome = sim.send(_demo_account(), request)
    else:
        outcome = sim.send(account, request)
    ET.SubElement(root, "Wiadomosc").text = str(params.get("wiadomosc") or "")
    recipients = ET.SubElement(root, "Odbiorcy")
    queued = ET.SubElement(recipients, "Skolejkowane")
    unsent = ET.SubElement(recipients, "Niewyslane")
    for item in outcome.items:
        attributes = {"id": item["id"] or "", "numer": item["phone"]}
        if item["status"] == "queued":
            attributes["godzina_skolejkowania"] = item["queued"]
            ET.SubElement(queued, "SMS", attributes)
        else:
            attributes["przyczyna"] = "wrong_number"
            ET.SubElement(unsent, "SMS", attributes)
    return root


def _demo_account() -> Account:
    return Account(name="demo")


def _check(sim, account, params, root: ET.Element) -> ET.Element:
    ids, phones = as_list(params.get("smsid")), as_list(params.get("numer"))
    date_from = parse_time(params["data_od"]) if params.get("data_od") else None
    date_to = parse_time(params["data_do"], end_of_day=True) if params.get("data_do") else None
    if not (ids or phones or date_from or date_to):
        raise XmlError("Podaj smsid, numer lub zakres dat.", None)
    if len(ids) > 500:
        raise XmlError("Najwyżej 500 identyfikatorów.", None)
    stan = params.get("stan") or ""
    if stan and stan not in STAN_FILTER:
        raise XmlError(f"Nieznany stan {stan!r}.", None)
    for message in sim.find(account, ids, [], phones):
        if stan and message.status not in STAN_FILTER[stan]:
            continue
        if date_from and message.queued < date_from or date_to and message.queued > date_to:
            continue
        ET.SubElement(
            root,
            "SMS",
            id=message.id,
            numer=message.phone,
            stan=STAN[message.status],
            przyczyna=message.reason or "",
            godzina_skolejkowania=format_time(message.queued) or "",
            godzina_wyslania=format_time(message.sent) or "",
            godzina_doreczenia=format_time(message.delivered) or "",
        )
    return root
