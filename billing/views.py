"""HTTP endpoints of the billing app: SerwerSMS delivery-report callbacks."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from billing.models import ClientAccount, EventSource
from billing.services.status_updates import apply_reports
from billing.serwersms.callbacks import CallbackError, parse_callback


def _text(body: str, status: int) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def serwersms_callback(request: HttpRequest, secret: str) -> HttpResponse:
    """One delivery report. 200 OK when applied or already known; 202 for a message not ours."""
    account = ClientAccount.objects.filter(callback_secret=secret, is_active=True).first()
    if account is None:
        return _text("unknown callback address", 404)
    data = request.POST if request.method == "POST" else request.GET
    try:
        item = parse_callback(data)
    except CallbackError as exc:
        return _text(f"bad report: {exc}", 400)
    summary = apply_reports(account, [item], EventSource.CALLBACK)
    if summary.unmatched:
        # Not one of ours (e.g. sent outside the portal): accepted so SerwerSMS does not retry.
        return _text(f"IGNORED: no message {item.serwersms_id or item.unique_id} here", 202)
    return _text("OK", 200)
