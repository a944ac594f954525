"""The older XML API (`/zdalnie/index.php`): `wyslij_sms`, `sprawdz_sms`, `ilosc_sms`."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from billing.simulator.api_v2 import send_request
from billing.simulator.core import Simulator, SimulatorError, as_bool, as_list, format_time

# Status words of the XML API (contract in billing/serwersms/types.py).
STAN = {
    "queued": "skolejkowana",
    "in_progress": "w_trakcie",
    "saved": "zaplanowana",
    "sent": "wyslana",
    "delivered": "doreczona",
    "undelivered": "niedoreczona",
    "unsent": "niewyslana",
}
# `stan` filter of sprawdz_sms -> statuses.
STAN_FILTER = {
    "doreczone": {"delivered"},
    "wyslane": {"sent"},
    "niewyslane": {"unsent"},
    "zaplanowane": {"saved"},
    "niedoreczone": {"undelivered"},
    "skolejkowane": {"queued", "in_progress"},
}


def handle(sim: Simulator, params: dict[str, Any]) -> tuple[int, bytes]:
    """The HTTP status and XML body for one XML API call; failures answer `<Blad>` with 200."""
    try:
        return 200, _document(_answer(sim, params))
    except SimulatorError as error:
        return 200, error_document(error)


def error_document(error: SimulatorError) -> bytes:
    """`<SerwerSMS><Blad kod="..">reason</Blad></SerwerSMS>`."""
    root = ET.Element("SerwerSMS")
    ET.SubElement(root, "Blad", kod=str(error.code)).text = error.message
    return _document(root)


def _document(root: ET.Element) -> bytes:
    declaration = b'<?xml version="1.0" encoding="UTF-8"?>\n'
    return declaration + ET.tostring(root, encoding="unicode").encode()


def _answer(sim: Simulator, params: dict[str, Any]) -> ET.Element:
    action = params.get("akcja") or ""
    account = sim.authenticate(username=params.get("login"), password=params.get("haslo"))
    if action == "wyslij_sms":
        return _send(sim, account, params)
    if action == "sprawdz_sms":
        return _check(sim, account, params)
    if action == "ilosc_sms":
        root = ET.Element("SerwerSMS")
        for item in sim.limits(account)["items"]:
            ET.SubElement(root, "SMS", typ=item["type"]).text = str(item["value"])
        return root
    raise SimulatorError(2004, f"Unknown akcja {action!r}.")


def _send(sim: Simulator, account, params: dict[str, Any]) -> ET.Element:
    personalized = params.get("spersonalizowane")
    if personalized:
        fields = {"messages": personalized}
        kind = "personalized"
    else:
        fields = {"phone": as_list(params.get("numer")), "text": params.get("wiadomosc")}
        kind = "voice" if as_bool(params.get("glosowy")) else "sms"
        if as_bool(params.get("mms")):
            kind, fields["title"] = "mms", params.get("wiadomosc")
    fields.update(
        sender=params.get("nadawca") or "",
        unique_id=as_list(params.get("usmsid")) or None,
        test=params.get("test"),
        ic=params.get("ic"),
        date=params.get("data"),
    )
    outcome = sim.send(account, send_request(kind, fields, channel="xml_api"))
    root = ET.Element("SerwerSMS")
    recipients = ET.SubElement(root, "Odbiorcy")
    queued = ET.SubElement(recipients, "Skolejkowane")
    unsent = ET.SubElement(recipients, "Niewyslane")
    for item in outcome.items:
        attributes = {"numer": item["phone"]}
        if item["unique_id"]:
            attributes["usmsid"] = item["unique_id"]
        if item["status"] == "queued":
            if item["id"]:
                attributes["id"] = item["id"]
            attributes["godzina_skolejkowania"] = item["queued"]
            attributes["czesci"] = str(item["parts"])
            ET.SubElement(queued, "SMS", attributes)
        else:
            attributes.update(przyczyna=item["error_message"], kod=str(item["error_code"]))
            ET.SubElement(unsent, "SMS", attributes)
    return root


def _check(sim: Simulator, account, params: dict[str, Any]) -> ET.Element:
    ids, unique_ids = as_list(params.get("smsid")), as_list(params.get("usmsid"))
    phones = as_list(params.get("numer"))
    if not (ids or unique_ids or phones):
        raise SimulatorError(2004, "Give smsid, usmsid or numer.")
    if max(len(ids), len(unique_ids)) > 500:
        raise SimulatorError(2004, "At most 500 ids per call.")
    stan = params.get("stan") or ""
    if stan and stan not in STAN_FILTER:
        raise SimulatorError(2004, f"Unknown stan {stan!r}.")
    root = ET.Element("SerwerSMS")
    for message in sim.find(account, ids, unique_ids, phones):
        if stan and message.status not in STAN_FILTER[stan]:
            continue
        ET.SubElement(
            root,
            "SMS",
            id=message.id,
            numer=message.phone,
            usmsid=message.unique_id or "",
            stan=STAN[message.status],
            przyczyna=message.reason or "",
            godzina_skolejkowania=format_time(message.queued) or "",
            godzina_wyslania=format_time(message.sent) or "",
            godzina_doreczenia=format_time(message.delivered) or "",
            czesci=str(message.parts),
        )
    return root
