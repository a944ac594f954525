"""Middleware for every portal page: proxy headers only from proxies, nothing a proxy or browser
may keep, no NUL characters.

`X-Forwarded-Proto` (Django's SECURE_PROXY_SSL_HEADER) is dropped from any request that does
not come from TRUSTED_PROXY_ADDRESSES, so a client cannot claim HTTPS for itself. Pages and
downloads carry partner data, so every response outside the static files says
`Cache-Control: no-store` (static files are answered by WhiteNoise before this runs). A request
holding a NUL character anywhere is answered 400 before any view reads it.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponseBadRequest, HttpResponseBase, JsonResponse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _


def from_trusted_proxy(request: HttpRequest) -> bool:
    """Whether the connection comes from one of TRUSTED_PROXY_ADDRESSES (none when unset)."""
    try:
        peer = ipaddress.ip_address((request.META.get("REMOTE_ADDR") or "").strip())
    except ValueError:
        return False
    for entry in settings.TRUSTED_PROXY_ADDRESSES:
        try:
            if peer in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


class TrustedProxyMiddleware:
    """Believe `X-Forwarded-Proto` only from a trusted proxy: from anyone else it is dropped
    before Django's `request.is_secure()` (HTTPS redirect, secure cookies, CSRF's origin check,
    absolute URLs) can read it. First in MIDDLEWARE."""

    HEADER = "HTTP_X_FORWARDED_PROTO"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self.HEADER in request.META and not from_trusted_proxy(request):
            del request.META[self.HEADER]
        return self.get_response(request)


class NoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        patch_cache_control(response, no_store=True, private=True)
        return response


def _has_nul(data) -> bool:
    return any("\x00" in key or any("\x00" in v for v in data.getlist(key)) for key in data)


class RejectNulMiddleware:
    """Answer 400 to any query or form value holding a NUL character: no text we keep may hold
    one (PostgreSQL refuses it), so such a request can only be a mistake or an attack.

    Form bodies are not read under /api/: the HTTP API takes JSON only and reads the body
    itself (its schemas refuse NUL); parsing a multipart body here would consume the stream,
    and the API could no longer read it (RawPostDataException, a 500)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if "\x00" in request.path or _has_nul(request.GET):
            return _refuse(request)
        if (
            request.method == "POST"
            and not _is_api(request)
            and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            if _has_nul(request.POST):
                return _refuse(request)
        return self.get_response(request)


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def _refuse(request: HttpRequest) -> HttpResponseBase:
    message = _("NUL characters are not allowed in a request.")
    if _is_api(request):
        # The HTTP API answers every error in its own JSON shape (partner_api.api).
        return JsonResponse(
            {"error": "invalid_request", "message": message, "errors": []}, status=400
        )
    return HttpResponseBadRequest(message)
