"""API v2 (JSON) actions of the simulator: parse parameters, call the Simulator, shape answers."""

from __future__ import annotations

from typing import Any

from billing.simulator.core import (
    ERRORS,
    Recipient,
    SendRequest,
    Simulator,
    SimulatorError,
    as_bool,
    as_list,
    parse_ic,
    parse_time,
)

SEND_ACTIONS = {
    "messages/send_sms": "sms",
    "messages/send_personalized": "personalized",
    "messages/send_voice": "voice",
    "messages/send_mms": "mms",
}


def action_name(path: str) -> str:
    """`/messages/send_sms.json` -> `messages/send_sms`."""
    action = path.strip("/")
    return action[: -len(".json")] if action.endswith(".json") else action


def handle(
    sim: Simulator, action: str, params: dict[str, Any], authorization: str = ""
) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON answer for one API v2 call."""
    try:
        return 200, _answer(sim, action, params, authorization)
    except SimulatorError as error:
        return error.http_status, error.as_json()


def _answer(sim: Simulator, action: str, params: dict[str, Any], authorization: str):
    if action.startswith("error/"):
        return _error_view(action.removeprefix("error/"))
    token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else None
    account = sim.authenticate(
        token=token, username=params.get("username"), password=params.get("password")
    )
    if action in SEND_ACTIONS:
        outcome = sim.send(account, send_request(SEND_ACTIONS[action], params))
        answer = {
            "success": True,
            "queued": outcome.queued,
            "unsent": outcome.unsent,
            "items": outcome.items,
        }
        if outcome.test:
            answer["test"] = True
        return answer
    if action == "messages/reports":
        return sim.reports(account, params)
    if action == "messages/view":
        return sim.view(account, params)
    if action == "messages/delete":
        return sim.delete(account, params)
    if action == "account/limits":
        return sim.limits(account)
    raise SimulatorError(4004, f"Unknown action {action!r}.")


def send_request(kind: str, params: dict[str, Any], channel: str = "api_v2") -> SendRequest:
    """The recipients and options of a sending action; ValidationError for bad input."""
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
                raise SimulatorError(2002, "An MMS needs a title of at most 40 characters.")
        text = "" if text is None else str(text)
        pairs = [(phone, text) for phone in as_list(params.get("phone"))]
    unique_ids = _unique_ids(params.get("unique_id"), len(pairs))
    date = parse_time(params["date"]) if params.get("date") else None
    sender = params.get("sender") or ""
    if not isinstance(sender, str):
        raise SimulatorError(2003, "sender must be a string.")
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
    )


def _personalized(value: Any) -> list[tuple[str, str]]:
    """`messages` as a list of {phone, text}, or the official client's "phone:text]|[..." string."""
    if isinstance(value, list):
        pairs = []
        for entry in value:
            if not isinstance(entry, dict):
                raise SimulatorError(2004, "messages must be a list of {phone, text}.")
            pairs.append((str(entry.get("phone") or ""), str(entry.get("text") or "")))
        return pairs
    if isinstance(value, str) and value:
        pairs = []
        for chunk in value.split("]|["):
            phone, _, text = chunk.partition(":")
            pairs.append((phone, text))
        return pairs
    raise SimulatorError(2004, "messages must be a list of {phone, text}.")


def _unique_ids(value: Any, count: int) -> list[str | None]:
    if value is None or value == "" or value == []:
        return [None] * count
    ids = [str(v) for v in value] if isinstance(value, list) else None
    if ids is None:
        ids = [str(value)] if count == 1 else as_list(value)
    if len(ids) != count:
        raise SimulatorError(
            2004, f"unique_id must give one id per recipient: {len(ids)} ids, {count} recipients."
        )
    return ids


def _error_view(code: str) -> dict[str, Any]:
    try:
        number = int(code)
        error_type, _status, message = ERRORS[number]
    except (ValueError, KeyError):
        raise SimulatorError(4004, f"Unknown error code {code!r}.") from None
    return {"code": number, "type": error_type, "message": message}
