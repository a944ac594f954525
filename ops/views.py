"""Health and metrics endpoints: /healthz, /readyz (load balancers), /metrics (Prometheus)."""

from __future__ import annotations

import hmac
import ipaddress
import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from health_check.views import HealthCheckView

from ops import checks, metrics

logger = logging.getLogger(__name__)


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers: no database, no broker (a load balancer's liveness probe)."""
    return JsonResponse({"status": "ok"})


class ReadyView(HealthCheckView):
    """Every readiness check, as a small JSON body; 503 when one fails."""

    checks = checks.READINESS_CHECKS

    async def get(self, request, *args, **kwargs):
        import asyncio

        instances = list(self.get_checks())
        for check in instances:
            check.detail = {}
        with self.get_executor() as executor:
            results = await asyncio.gather(*(c.get_result(executor) for c in instances))
        data = checks.body((type(r.check).key, r.error, r.check.detail) for r in results)
        return JsonResponse(data, status=200 if data["status"] == "ok" else 503)


readyz = ReadyView.as_view()


def _address_allowed(request: HttpRequest) -> bool:
    # The one client-address rule (behind the trusted proxies), the callable the settings name
    # for django-axes: ops imports nothing of the web apps.
    client_address = import_string(settings.AXES_CLIENT_IP_CALLABLE)
    allowed = settings.METRICS_ALLOWED_ADDRESSES
    address = client_address(request)
    if not allowed or not address:
        return False
    ip = ipaddress.ip_address(address)
    for net in allowed:
        try:
            if ip in ipaddress.ip_network(net, strict=False):
                return True
        except ValueError:
            logger.warning("METRICS_ALLOWED_ADDRESSES: %r is not an address or network", net)
    return False


def _token_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    return (
        bool(token)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(value.strip().encode(), token.encode())
    )


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text exposition; only with METRICS_TOKEN (bearer) or from an address in
    METRICS_ALLOWED_ADDRESSES. With neither set the endpoint does not exist (404)."""
    from prometheus_client import CONTENT_TYPE_LATEST

    if not settings.METRICS_TOKEN and not settings.METRICS_ALLOWED_ADDRESSES:
        raise Http404
    if not (_token_allowed(request) or _address_allowed(request)):
        response = HttpResponse("Forbidden: give the metrics token.\n", status=403)
        response["WWW-Authenticate"] = "Bearer"
        return response
    return HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
