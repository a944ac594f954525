"""Request guards that apply to every view (the portal, the callback endpoint, the admin)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBadRequest
from django.utils.translation import gettext as _


def _has_nul(data) -> bool:
    return any("\x00" in key or any("\x00" in v for v in data.getlist(key)) for key in data)


class RejectNulMiddleware:
    """Answer 400 to any query or form value holding a NUL character: no text we keep may hold
    one (PostgreSQL refuses it), so such a request can only be a mistake or an attack."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if "\x00" in request.path or _has_nul(request.GET):
            return HttpResponseBadRequest(_("NUL characters are not allowed in a request."))
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            if _has_nul(request.POST):
                return HttpResponseBadRequest(_("NUL characters are not allowed in a request."))
        return self.get_response(request)
