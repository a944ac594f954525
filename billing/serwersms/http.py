"""HTTP plumbing shared by the API v2 and XML clients: one POST with a timeout, typed failures."""

from __future__ import annotations

import requests
from urllib3.exceptions import NameResolutionError, NewConnectionError

from .errors import TransportError


def _never_connected(exc: BaseException) -> bool:
    """True when the request surely never left us (refused, unknown host, connect timeout)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, NewConnectionError | NameResolutionError | ConnectionRefusedError):
            return True
        stack.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        stack.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))
    return False


def post(session: requests.Session, url: str, *, timeout: float, **kwargs) -> requests.Response:
    """POST, turning transport failures into TransportError that says whether it may have sent."""
    try:
        return session.post(url, timeout=timeout, **kwargs)
    except requests.RequestException as exc:
        if _never_connected(exc):
            raise TransportError(
                f"Could not connect to SerwerSMS at {url}: {exc}", may_have_been_sent=False
            ) from exc
        if isinstance(exc, requests.Timeout):
            message = f"SerwerSMS did not answer within {timeout} s ({url})."
        else:
            message = f"The connection to SerwerSMS dropped before an answer ({url}): {exc}"
        raise TransportError(message, may_have_been_sent=True) from exc
