"""Middleware for every portal page: proxy headers only from proxies, nothing a proxy or browser
may keep, no NUL characters."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBadRequest, HttpResponseBase, JsonResponse
from django.utils.cache import patch_cache_control
from django.utils.deprecation import MiddlewareMixin
from django.utils.translation import gettext as _

from .login_security import is_trusted_proxy


class TrustedProxyMiddleware(MiddlewareMixin):
    """Believe `X-Forwarded-Proto` only from a trusted proxy: from anyone else it is dropped
    before Django's `request.is_secure()` (HTTPS redirect, secure cookies, CSRF's origin check,
    absolute URLs) can read it."""

    HEADER = "HTTP_X_FORWARDED_PROTO"

    def process_request(self, request: HttpRequest) -> None:
        if self.HEADER in request.META and not is_trusted_proxy(request.META.get("REMOTE_ADDR")):
            del request.META[self.HEADER]


class NoStoreMiddleware(MiddlewareMixin):
    """Pages and downloads carry partner data: `Cache-Control: no-store` on every response
    (static files are answered by WhiteNoise before this runs)."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase):
        patch_cache_control(response, no_store=True, private=True)
        return response


def _has_nul(data) -> bool:
    return any("\x00" in key or any("\x00" in v for v in data.getlist(key)) for key in data)


class RejectNulMiddleware(MiddlewareMixin):
    """Answer 400 to any query or form value holding a NUL character: no text we keep may hold
    one (PostgreSQL refuses it), so such a request can only be a mistake or an attack. Form
    bodies under /api/ are not read: the API reads its JSON body itself (its schemas refuse NUL),
    and parsing a multipart body here would consume the stream (RawPostDataException, a 500)."""

    def process_request(self, request: HttpRequest) -> HttpResponseBase | None:
        is_api = request.path_info.startswith("/api/")
        form_body = (
            request.method == "POST"
            and not is_api
            and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
        )
        if (
            "\x00" in request.path
            or _has_nul(request.GET)
            or (form_body and _has_nul(request.POST))
        ):
            message = _("NUL characters are not allowed in a request.")
            if is_api:
                # The HTTP API answers every error in its own JSON shape (partner_api.api).
                return JsonResponse(
                    {"error": "invalid_request", "message": message, "errors": []}, status=400
                )
            return HttpResponseBadRequest(message)
