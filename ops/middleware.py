"""Count partner API requests by key prefix and answer (counters.API_REQUESTS)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from ops import counters

API_PREFIX = "/api/"


def count_api_requests(get_response: Callable[[HttpRequest], HttpResponse]):
    """Middleware: after each /api/ request, add one to (key prefix, HTTP status).

    The key is the one django-ninja authenticated (`request.auth`), `none` without one: never
    the secret, only its public prefix."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        if request.path.startswith(API_PREFIX):
            key = getattr(getattr(request, "auth", None), "prefix", None) or "none"
            counters.add(counters.API_REQUESTS, {"key": key, "status": str(response.status_code)})
        return response

    return middleware
