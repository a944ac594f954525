"""Tell django-axes the real client address and which failures count against a login
(docs/portal.md, "Logins and throttling"). Imports nothing from billing."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

DEVICE_COOKIE = "pp_device"
_DEVICE_SALT = "partner_portal.login_security.device"
_DEVICE_MAX_USERS = 5


def _valid_address(value: str | None) -> str | None:
    value = (value or "").strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def is_trusted_proxy(address: str | None) -> bool:
    """Whether `address` is in TRUSTED_PROXY_ADDRESSES (none when unset; bad entries skipped)."""
    try:
        peer = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return False
    for entry in settings.TRUSTED_PROXY_ADDRESSES:
        try:
            if peer in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_address(request: HttpRequest) -> str | None:
    """Return the client's IP address as the trusted proxy saw it (docs/portal.md); a missing,
    short or bad header, or a peer outside TRUSTED_PROXY_ADDRESSES (if set), gives REMOTE_ADDR."""
    remote = _valid_address(request.META.get("REMOTE_ADDR"))
    if settings.TRUSTED_PROXY_ADDRESSES and not is_trusted_proxy(remote):
        return remote
    if settings.CLIENT_IP_HEADER:
        key = "HTTP_" + settings.CLIENT_IP_HEADER.upper().replace("-", "_")
        return _valid_address(request.META.get(key)) or remote
    count = settings.TRUSTED_PROXY_COUNT
    if count > 0:
        entries = [e for e in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if e.strip()]
        if len(entries) >= count:
            return _valid_address(entries[-count]) or remote
    return remote


def _normalised(username: str | None) -> str:
    return (username or "").strip().lower()


def known_usernames(request: HttpRequest) -> list[str]:
    """Usernames that logged in successfully from this browser (signed cookie), newest first."""
    value = request.COOKIES.get(DEVICE_COOKIE, "")
    try:
        return signing.loads(
            value, salt=_DEVICE_SALT, max_age=settings.LOGIN_DEVICE_COOKIE_DAYS * 86400
        )
    except signing.BadSignature:  # also a missing cookie (""), an expired or a forged one
        return []


def remember_device(request: HttpRequest, response: HttpResponse, username: str) -> None:
    """Mark this browser as a known device of `username` (after a successful login)."""
    names = [_normalised(username)]
    names += [n for n in known_usernames(request) if n != names[0]][: _DEVICE_MAX_USERS - 1]
    response.set_cookie(
        DEVICE_COOKIE,
        signing.dumps(names, salt=_DEVICE_SALT),
        max_age=settings.LOGIN_DEVICE_COOKIE_DAYS * 86400,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def lockout_parameters(request, credentials: dict | None = None) -> list:
    """What django-axes counts for this attempt: from a known device of this username only its
    failures from this address, else the username's and the address's failures apart."""
    username = _normalised((credentials or {}).get("username"))
    if username and isinstance(request, HttpRequest) and username in known_usernames(request):
        return [["username", "ip_address"]]
    return ["username", "ip_address"]
