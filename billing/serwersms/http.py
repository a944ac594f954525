"""HTTP plumbing shared by the API v2 and XML clients: one POST with a timeout, typed failures."""

from __future__ import annotations

import requests
from urllib3.exceptions import NameResolutionError, NewConnectionError

from .errors import RateLimited, ServerError, TransportError


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


def raise_for_http_status(response: requests.Response) -> None:
    """429 and 5xx are failures whatever the body says (the body may not even be JSON)."""
    if response.status_code == 429:
        retry_after = response.headers.get("Retry-After")
        try:
            seconds = float(retry_after) if retry_after else None
        except ValueError:
            seconds = None
        raise RateLimited(
            "rate_limited",
            "SerwerSMS is throttling requests (HTTP 429).",
            429,
            retry_after=seconds,
        )
    if response.status_code >= 500:
        raise ServerError(
            "server_error",
            f"SerwerSMS answered HTTP {response.status_code}: {response.text[:200]}",
            response.status_code,
        )
