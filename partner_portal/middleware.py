"""Response headers for every portal page: nothing a proxy or browser may keep.

Pages and downloads carry partner data, so every response outside the static files says
`Cache-Control: no-store` (static files are answered by WhiteNoise before this runs).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control


class NoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        patch_cache_control(response, no_store=True, private=True)
        return response
