"""HTTP endpoints of the billing app: SerwerSMS delivery-report callbacks."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from billing import log_context
from billing.models import ClientAccount, EventSource
from billing.services.status_updates import apply_reports
from billing.serwersms.callbacks import CallbackError, parse_callback

logger = logging.getLogger(__name__)


def _text(body: str, status: int) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def serwersms_callback(request: HttpRequest, secret: str) -> HttpResponse:
    """One delivery report (`smsid`, `stan`, `data`; GET or POST), answered `OK` (§5), also when
    not ours or repeated, so SerwerSMS stops sending it; a malformed one is 400. The secret in the
    URL names the account."""
    account = ClientAccount.objects.filter(callback_secret=secret, is_active=True).first()
    if account is None:
        return _text("unknown callback address", 404)
    log_context.bind_account(account)
    # GET query or POST form (§5); a POST may also carry them in its query string.
    data = {**request.GET.dict(), **request.POST.dict()}
    try:
        item = parse_callback(data)
    except CallbackError as exc:
        return _text(f"bad report: {exc}", 400)
    summary = apply_reports(account, [item], EventSource.CALLBACK)
    if summary.unmatched:
        # Not one of ours (e.g. sent outside the portal): OK, so SerwerSMS does not retry.
        logger.info("Callback for unknown SerwerSMS id %s ignored", item.serwersms_id)
    return _text("OK", 200)
