"""Middleware for every portal page: nothing a proxy or browser may keep, no NUL characters.

Pages and downloads carry partner data, so every response outside the static files says
`Cache-Control: no-store` (static files are answered by WhiteNoise before this runs). A request
holding a NUL character anywhere is answered 400 before any view reads it.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBadRequest, HttpResponseBase, JsonResponse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _


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
    one (PostgreSQL refuses it), so such a request can only be a mistake or an attack."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if "\x00" in request.path or _has_nul(request.GET):
            return _refuse(request)
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            if _has_nul(request.POST):
                return _refuse(request)
        return self.get_response(request)


def _refuse(request: HttpRequest) -> HttpResponseBase:
    message = _("NUL characters are not allowed in a request.")
    if request.path.startswith("/api/"):
        # The HTTP API answers every error in its own JSON shape (partner_api.api).
        return JsonResponse(
            {"error": "invalid_request", "message": message, "errors": []}, status=400
        )
    return HttpResponseBadRequest(message)
