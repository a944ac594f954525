"""API v2 (§1-§3): actions of the official clients, parsed and answered in the documented shapes.

Errors answer HTTP 200 with the §2 envelope (§8, I).
"""

from __future__ import annotations

from typing import Any

from .core import Simulator
from .protocol import ERRORS, SimulatorError, as_bool, as_list, parse_ic, parse_time
from .sending import Recipient, SendRequest

# Sending actions: they carry the ic (§7) and take messages.
SEND_ACTIONS = {
    "messages/send_sms": "sms",
    "messages/send_personalized": "personalized",
    "messages/send_voice": "voice",
    "messages/send_mms": "mms",
}


def action_name(path: str) -> str:
    """`/messages/send_sms.json` or `/messages/send_sms` -> `messages/send_sms` (§1, C)."""
    action = path.strip("/")
    for suffix in (".json", ".xml"):
        if action.endswith(suffix):
            return action[: -len(suffix)]
    return action


def is_sending(action: str) -> bool:
    return action in SEND_ACTIONS


def handle(sim: Simulator, action: str, params: dict[str, Any], authorization: str = ""):
    """The JSON answer for one API v2 call (HTTP 200 always, §8)."""
    try:
        return _answer(sim, action, params, authorization)
    except SimulatorError as error:
        return error.as_json()


def _answer(sim: Simulator, action: str, params: dict[str, Any], authorization: str):
    if action.startswith("error/"):
        return _error_view(action.removeprefix("error/"))
    token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else None
    account = sim.authenticate(
        token=token, username=params.get("username"), password=params.get("password")
    )
    if action in SEND_ACTIONS:
        outcome = sim.send(account, send_request(SEND_ACTIONS[action], params))
        answer: dict[str, Any] = {
            "success": True,
            "queued": outcome.queued,
            "unsent": outcome.unsent,
        }
        if as_bool(params.get("details")):  # §3 (I): items only with `details`
            answer["items"] = outcome.items
        return answer
    if action == "messages/reports":
        return sim.reports(account, params)
    if action == "messages/view":
        return sim.view(account, params)
    if action == "messages/delete":
        return sim.delete(account, params)
    if action == "messages/recived":
        return sim.incoming(account, params, "recived")
    if action == "messages/received":
        return sim.incoming(account, params, "received")
    if action in ("messages/send_nd", "messages/send_ndi"):
        kind = action.removeprefix("messages/send_")
        if not params.get("phone") or not params.get("text"):
            raise SimulatorError(2000, "Give phone and text.")
        sim.receive(
            account, str(params["phone"]), str(params["text"]), kind, params.get("ndi_number", "")
        )
        return {"success": True}
    if action == "account/limits":
        return sim.limits(account, params)
    if action == "senders/add":
        return sim.add_sender(account, params)
    if action == "senders/index":
        return sim.list_senders(account, params)
    if action == "phones/check":
        return sim.check_phone(account, params)
    if action == "phones/test":
        return sim.test_phone(account, params)
    raise SimulatorError(1000, f"Unknown action {action!r}.")


def send_request(kind: str, params: dict[str, Any], channel: str = "api_v2") -> SendRequest:
    """The recipients and options of a sending action; SimulatorError for bad input."""
    ic = parse_ic(params.get("ic"))
    if kind == "personalized":
        pairs = _personalized(params.get("messages"))
    else:
        text = params.get("text")
        if kind == "voice" and not text and params.get("file_id"):
            text = f"file:{params['file_id']}"
        if kind == "mms":
            text = str(params.get("title") or "")
            if not text.strip() or len(text) > 40:
                raise SimulatorError(1006, "An MMS needs a title of at most 40 characters.")
        text = "" if text is None else str(text)
        pairs = [(phone, text) for phone in as_list(params.get("phone"))]
    unique_ids = _unique_ids(params.get("unique_id"), len(pairs))
    date = parse_time(params["date"]) if params.get("date") else None
    sender = params.get("sender") or ""
    if not isinstance(sender, str):
        raise SimulatorError(1006, "sender must be a string.")
    return SendRequest(
        recipients=[
            Recipient(phone=phone, text=text, unique_id=unique_id)
            for (phone, text), unique_id in zip(pairs, unique_ids, strict=True)
        ],
        channel=channel,
        ic=ic,
        sender=sender if kind in ("sms", "personalized") else "",
        kind="sms" if kind == "personalized" else kind,
        test=as_bool(params.get("test")),
        flash=as_bool(params.get("flash")),
        utf=as_bool(params.get("utf")),
        date=date,
        personalized=kind == "personalized",
    )


def _personalized(value: Any) -> list[tuple[str, str]]:
    """§3 (C): an array of {phone, text}, or one string `phone:text]|[phone:text`."""
    if isinstance(value, list):
        pairs = []
        for entry in value:
            if not isinstance(entry, dict):
                raise SimulatorError(1006, "messages must be a list of {phone, text}.")
            pairs.append((str(entry.get("phone") or ""), str(entry.get("text") or "")))
        return pairs
    if isinstance(value, str) and value:
        pairs = []
        for chunk in value.split("]|["):
            phone, _, text = chunk.partition(":")
            pairs.append((phone, text))
        return pairs
    raise SimulatorError(2000, "messages must be a list of {phone, text}.")


def _unique_ids(value: Any, count: int) -> list[str | None]:
    """One id per number; the rules themselves are checked by `send` (§3)."""
    if value is None or value == "" or value == []:
        return [None] * count
    if isinstance(value, list):
        ids = [str(v) for v in value]
    else:
        ids = [str(value)] if count == 1 else as_list(value)
    if len(ids) != count:
        raise SimulatorError(
            1006, f"unique_id must give one id per number: {len(ids)} ids, {count} numbers."
        )
    return ids


def _error_view(code: str) -> dict[str, Any]:
    """`error/{code}` answers the same envelope for that code (§2, C)."""
    try:
        number = int(code)
        ERRORS[number]
    except (ValueError, KeyError):
        raise SimulatorError(1006, f"Unknown error code {code!r}.") from None
    return SimulatorError(number).as_json()
