"""/api/v1/: the endpoints partner software calls. Each parses, calls one service or selector.

Auth: `Authorization: Bearer <API key>`; a key acts for one client account and reads everything
of its partner, nothing else. Errors are JSON `{"error", "message", "errors": [{field, code,
message}]}` with 400, 401, 403, 404, 409, 413 or 429.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path as FilePath
from typing import Literal

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from ninja import NinjaAPI, Path, Query
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.params import Header
from ninja.security import HttpBearer
from ninja.throttling import BaseThrottle

from billing import selectors
from billing.commission import billing_month, format_period, parse_period, round_total
from billing.models import AuditAction, AuditEntry, Message, Statement
from billing.services.reporting import REFUSED, Reported, record_reported_messages
from billing.statuses import billing_class

from . import rate_limits
from . import schemas as s
from .idempotency import IdempotencyConflict, IdempotencyInProgress, run_once
from .keys import key_for
from .models import ApiKey
from .pages import decode_cursor, encode_cursor
from .sending import Recipient, SendRefused, send_messages

ERRORS = {
    400: s.Error,
    401: s.Error,
    403: s.Error,
    404: s.Error,
    409: s.Error,
    413: s.Error,
    429: s.Error,
}
SINCE_MIN = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
SINCE_MAX = dt.datetime(2999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
MAX_ID = 2**62  # larger ids overflow the database's bigint: answer 400, not 500
GUIDE = FilePath(settings.BASE_DIR) / "docs" / "api.md"


def _responses(ok: int, schema, *codes: int) -> dict:
    return {ok: schema, **{code: ERRORS[code] for code in (400, 401, 403, 429, *codes)}}


class ApiError(HttpError):
    def __init__(self, status: int, code: str, message: str, errors=(), headers=None):
        super().__init__(status_code=status, message=message)
        self.code = code
        self.errors = [{"field": f, "code": c, "message": m} for f, c, m in errors]
        self.headers = dict(headers or {})


class KeyAuth(HttpBearer):
    openapi_description = "An API key from the portal's API keys page or the admin."

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        key = key_for(token)
        if key is None:
            return None
        if not key.account.is_active or not key.account.partner.is_active:
            raise ApiError(403, "forbidden", "The client account or partner of this key is off.")
        return key


class KeyThrottle(BaseThrottle):
    """API_RATE_LIMIT requests per key in any window of its period, counted atomically in the
    shared storage (partner_api.rate_limits), so concurrent requests cannot overrun it."""

    def __init__(self):
        self._waits = threading.local()  # one instance serves every request thread

    def allow_request(self, request: HttpRequest) -> bool:
        key = getattr(request, "auth", None)
        wait = rate_limits.take("api_key", str(key.pk)) if key is not None else None
        self._waits.seconds = wait
        return wait is None

    def wait(self) -> float | None:
        return getattr(self._waits, "seconds", None)


def _guide() -> str:
    return GUIDE.read_text(encoding="utf-8") if GUIDE.exists() else ""


api = NinjaAPI(
    title="Partner Portal API",
    version="1",
    description=_guide(),
    urls_namespace="api_v1",
    auth=KeyAuth(),
    throttle=[KeyThrottle()],
    openapi_url="/openapi.json",
    docs_url="/docs",
)


def _error(request, status: int, code: str, message: str, errors=(), headers=None):
    response = api.create_response(
        request, {"error": code, "message": message, "errors": list(errors)}, status=status
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _field(loc) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        # ("body", "payload", "recipients", 3, "phone") -> recipients[3].phone
        parts = parts[2:] if parts[0] == "body" and len(parts) > 2 else parts[1:]
    text = ""
    for part in parts:
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text or "body"


@api.exception_handler(ValidationError)
def _invalid(request, exc: ValidationError):
    errors = [
        {"field": _field(e.get("loc", ())), "code": e.get("type", "invalid"), "message": e["msg"]}
        for e in exc.errors
    ]
    too_many = [
        e
        for e in exc.errors
        if e.get("type") == "too_long"
        and tuple(e.get("loc", ()))[-1:] in {("recipients",), ("messages",)}
    ]
    if too_many:
        return _error(request, 413, "too_many_items", "Too many items in one request.", errors)
    return _error(request, 400, "invalid_request", "The request is not valid.", errors)


@api.exception_handler(AuthenticationError)
def _unauthorized(request, exc):
    response = _error(
        request, 401, "unauthorized", "Give a valid API key: Authorization: Bearer <key>."
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(Throttled)
def _throttled(request, exc: Throttled):
    wait = max(1, int(exc.wait or 1))
    return _error(
        request,
        429,
        "rate_limited",
        f"Too many requests for this key; retry in {wait} s.",
        headers={"Retry-After": str(wait)},
    )


@api.exception_handler(ApiError)
def _api_error(request, exc: ApiError):
    return _error(
        request, exc.status_code, exc.code, str(exc.message), exc.errors, headers=exc.headers
    )


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    # ninja's own: 400 "Cannot parse request body" (not JSON: a form, multipart) and the like.
    code = "invalid_request" if exc.status_code == 400 else "error"
    message = str(exc.message)
    if exc.status_code == 400 and message.startswith("Cannot parse request body"):
        message = "The body is not JSON: send it as JSON with Content-Type: application/json."
    return _error(request, exc.status_code, code, message)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return _error(request, 404, "not_found", "No such object for this partner.")


@api.exception_handler(RequestDataTooBig)
def _too_big(request, exc):
    return _error(request, 413, "too_large", "The request body is too large.")


# --- helpers -----------------------------------------------------------------------------------


def _message_out(message: Message) -> dict:
    return {
        "id": message.pk,
        "account": {"id": message.account_id, "name": message.account.name},
        "channel": message.channel,
        "ic": message.ic,
        "unique_id": message.unique_id,
        "serwersms_id": message.serwersms_id,
        "phone": message.phone,
        "sender": message.sender,
        "type": message.message_type,
        "parts": message.parts,
        "cost": message.cost,
        "status": message.status,
        "billing": billing_class(message.status, message.ic_proof).value,
        "ic_proof": message.ic_proof,
        "figures_from_serwersms": message.serwersms_figures_at is not None,
        "claim": _claim_out(message),
        "claim_difference": message.claim_difference,
        "reason": message.reason,
        "error": message.error_message,
        "created_at": message.created_at,
        "queued_at": message.queued_at,
        "sent_at": message.sent_at,
        "delivered_at": message.delivered_at,
        "dispatched_at": message.dispatched_at,
        "last_checked_at": message.last_checked_at,
    }


def _claim_out(message: Message) -> dict | None:
    if message.channel != "reported":
        return None
    return {
        "status": message.claimed_status,
        "type": message.claimed_type,
        "parts": message.claimed_parts,
        "cost": message.claimed_cost,
        "sent_at": message.claimed_sent_at,
    }


def _idempotent(request, key: str | None, operation: str, payload: dict, run):
    """Run `run() -> (status, body)`, once per Idempotency-Key when one is given."""
    account = request.auth.account
    if not key:
        status, body = run()
        # The body is built to the schema (checked by the schema tests): render it directly
        # rather than validate 10,000 per-item answers again.
        return api.create_response(request, body, status=status)
    try:
        status, body, replayed = run_once(
            account=account, operation=operation, key=key, payload=payload, run=run
        )
    except IdempotencyConflict as exc:
        raise ApiError(409, "idempotency_conflict", exc.message) from None
    except IdempotencyInProgress as exc:
        raise ApiError(
            409,
            "idempotency_in_progress",
            exc.message,
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
    response = api.create_response(request, body, status=status)
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


IdempotencyKey = Header(
    None,
    alias="Idempotency-Key",
    max_length=255,
    description="Any string; the same key answers the first answer again and sends nothing.",
)


# --- endpoints ---------------------------------------------------------------------------------


@api.get("/me", response=_responses(200, s.KeyOut), summary="The key, its account and partner")
def me(request):
    key = request.auth
    return {
        "name": key.name,
        "prefix": key.prefix,
        "account": {"id": key.account_id, "name": key.account.name},
        "partner": key.account.partner.name,
        "ic": key.account.partner.ic,
    }


@api.post(
    "/messages",
    response=_responses(202, s.SendOut, 409, 413),
    summary="Send one text to up to 1,000 recipients with your ic",
)
def send(request, payload: s.SendIn, idempotency_key: str | None = IdempotencyKey):
    account = request.auth.account
    recipients = [Recipient(r.phone, r.unique_id) for r in payload.recipients]

    def run():
        try:
            messages = send_messages(
                account=account,
                recipients=recipients,
                text=payload.text,
                sender=payload.sender or "",
                channel=payload.channel,
                idempotency_key=idempotency_key or "",
            )
        except SendRefused as exc:
            if exc.conflict:
                raise ApiError(409, "conflict", str(exc), exc.errors) from None
            raise ApiError(400, "invalid_request", str(exc), exc.errors) from None
        body = s.SendOut(messages=[_message_out(m) for m in messages]).model_dump(mode="json")
        return 202, body

    return _idempotent(request, idempotency_key, "send", payload.model_dump(mode="json"), run)


@api.post(
    "/messages/reported",
    response=_responses(200, s.ReportOut, 409, 413),
    summary="Record up to 10,000 messages your software sent straight to SerwerSMS",
)
def report(request, payload: s.ReportIn, idempotency_key: str | None = IdempotencyKey):
    account = request.auth.account
    items = [
        Reported(
            serwersms_id=m.serwersms_id,
            phone=m.phone,
            ic=m.ic,
            sent_at=m.sent_at
            if timezone.is_aware(m.sent_at)
            else timezone.make_aware(m.sent_at, selectors.billing_zone()),
            account=m.account,
            message_type=m.type,
            parts=m.parts,
            cost=m.cost,
            unique_id=m.unique_id,
            sender=m.sender,
            status=m.status,
        )
        for m in payload.messages
    ]

    def run():
        results = record_reported_messages(account=account, items=items)
        counts = {"created": 0, "existing": 0, "refused": 0}
        out = []
        for r in results:
            counts[r.outcome] += 1
            out.append(
                {
                    "index": r.index,
                    "serwersms_id": r.serwersms_id,
                    "outcome": r.outcome,
                    "id": None if r.outcome == REFUSED else r.message_id,
                    "ic_proof": None if r.outcome == REFUSED else "reported",
                    "billing": None if r.outcome == REFUSED else "pending",
                    "claim": None if r.outcome == REFUSED else r.claim,
                    "errors": [{"field": f, "code": c, "message": m} for f, c, m in r.errors],
                }
            )
        return 200, {**counts, "results": out}

    return _idempotent(request, idempotency_key, "report", payload.model_dump(mode="json"), run)


@api.get(
    "/messages/{message_id}",
    response=_responses(200, s.MessageDetail, 404),
    summary="One message with its status history",
)
def message_detail(request, message_id: int = Path(..., ge=1, le=MAX_ID)):
    message = selectors.message_for(request.auth.account.partner, message_id)
    if message is None:
        raise Http404
    events = [
        {
            "source": e.source,
            "old_status": e.old_status,
            "new_status": e.new_status,
            "applied": e.applied,
            "note": e.note,
            "status_at": e.status_at,
            "created_at": e.created_at,
        }
        for e in message.events.order_by("created_at", "id")
    ]
    return {**_message_out(message), "events": events}


class MessageFilters(s.Schema):
    status: s.StatusWord | Literal["counted", "pending", "unconfirmed"] | None = s.Field(
        default=None, description="A status, or `counted` / `pending` / `unconfirmed`."
    )
    since: dt.datetime | None = s.Field(default=None, description="Created at or after.")
    account: int | None = s.Field(default=None, ge=1, le=2**62)
    cursor: str | None = s.Field(default=None, max_length=200)
    limit: int = s.Field(default=100, ge=1, le=1000)


@api.get(
    "/messages",
    response=_responses(200, s.MessagePage),
    summary="The partner's messages, newest first, one page at a time",
)
def message_list(request, filters: Query[MessageFilters]):
    partner = request.auth.account.partner
    queryset = selectors.messages_for(
        partner, {"status": filters.status, "account": filters.account}
    ).order_by("-created_at", "-id")
    if filters.since:
        since = filters.since
        if timezone.is_naive(since):
            since = timezone.make_aware(since, selectors.billing_zone())
        try:
            since = since.astimezone(dt.UTC)  # offsets the database refuses (over 15:59) too
        except (OverflowError, ValueError):
            since = None
        if since is None or not SINCE_MIN <= since <= SINCE_MAX:
            raise ApiError(
                400,
                "invalid_request",
                "The request is not valid.",
                [("since", "out_of_range", "Give a time from 2000-01-01 to 2999-12-31.")],
            )
        queryset = queryset.filter(created_at__gte=since)
    if filters.cursor:
        try:
            queryset = queryset.filter(decode_cursor(filters.cursor))
        except ValueError:
            raise ApiError(
                400,
                "invalid_cursor",
                "The cursor is not one this API gave.",
                [("cursor", "invalid", "Unknown cursor.")],
            ) from None
    rows = list(queryset[: filters.limit + 1])
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    return {
        "items": [_message_out(m) for m in rows],
        "next_cursor": encode_cursor(rows[-1]) if more else None,
    }


@api.get(
    "/commission",
    response=_responses(200, s.CommissionOut),
    summary="A billing month's running figures and commission",
)
def commission(
    request,
    period: str | None = Query(
        None, pattern=r"^2[0-9]{3}-(0[1-9]|1[0-2])$", description="YYYY-MM; default this month."
    ),
):
    partner = request.auth.account.partner
    if period:
        month = parse_period(period)
    else:
        month = billing_month(timezone.now())
    figures = selectors.month_figures(partner, month)
    statement = figures.statement
    return {
        "period": format_period(month),
        "currency": statement.currency if statement else settings.BILLING_CURRENCY,
        "counts_live": not figures.is_closed,
        "counted": figures.counted,
        "counted_parts": figures.counted_parts,
        "pending": figures.pending,
        "unsent": figures.unsent,
        "delivered": figures.delivered,
        "undelivered": figures.undelivered,
        "commission": figures.commission,
        "forecast": figures.forecast,
        "unconfirmed": figures.unconfirmed,
        "unconfirmed_parts": figures.unconfirmed_parts,
        "unconfirmed_commission": figures.unconfirmed_commission,
        "total": figures.total,
        "as_of": figures.as_of,
        "statement_id": statement.pk if statement else None,
        "statement_status": statement.status if statement else None,
        "accounts": [
            {
                "account": {"id": row.account.pk, "name": row.account.name},
                "commission": row.commission,
                "counted": row.counted,
                "counted_parts": row.counted_parts,
                "pending": row.pending,
                "unsent": row.unsent,
                "delivered": row.delivered,
                "undelivered": row.undelivered,
                "unconfirmed": row.unconfirmed,
                "unconfirmed_parts": row.unconfirmed_parts,
                "unconfirmed_commission": row.unconfirmed_commission,
            }
            for row in selectors.account_figures(partner, month)
        ],
    }


STATEMENT_FORMATS = ("csv", "xlsx", "pdf")


def _statement_out(request, statement: Statement) -> dict:
    return {
        "id": statement.pk,
        "number": statement.number,
        "period": format_period(statement.period),
        "status": statement.status,
        "currency": statement.currency,
        "counted_messages": statement.counted_messages,
        "counted_parts": statement.counted_parts,
        "pending_messages": statement.pending_messages,
        "unsent_messages": statement.unsent_messages,
        "unconfirmed_messages": statement.unconfirmed_messages,
        "unconfirmed_parts": statement.unconfirmed_parts,
        "unconfirmed_commission": round_total(statement.unconfirmed_commission),
        "commission": statement.printed_commission,
        "adjustments": statement.printed_adjustments,
        "opening_credit": statement.opening_credit,
        "rounding": statement.rounding,
        "carried_forward": statement.carried_forward,
        "total": statement.total,
        "vat_rate": statement.vat_rate,
        "vat": statement.vat,
        "gross": statement.gross,
        "payout": getattr(getattr(statement, "payout", None), "status", None),
        "built_at": statement.built_at,
        "closed_at": statement.closed_at,
        "documents": [
            {
                "format": fmt,
                "url": request.build_absolute_uri(
                    reverse(
                        "api_v1:statement_document",
                        kwargs={"statement_id": statement.pk, "fmt": fmt},
                    )
                ),
            }
            for fmt in STATEMENT_FORMATS
        ],
    }


@api.get(
    "/statements",
    response=_responses(200, s.StatementList),
    summary="The partner's statements, newest first, with their documents",
)
def statement_list(request):
    statements = selectors.statements_for(request.auth.account.partner).select_related("payout")
    return {"items": [_statement_out(request, st) for st in statements]}


DOCUMENT_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


@api.get(
    "/statements/{statement_id}/documents/{fmt}",
    response={code: schema for code, schema in _responses(200, None, 404).items() if code != 200},
    summary="A statement as CSV, XLSX or PDF",
    url_name="statement_document",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The document.",
                "content": {
                    ctype: {"schema": {"type": "string", "format": "binary"}}
                    for ctype in DOCUMENT_TYPES.values()
                },
            }
        }
    },
)
def statement_document(
    request,
    fmt: Literal["csv", "xlsx", "pdf"],
    statement_id: int = Path(..., ge=1, le=MAX_ID),
):
    from billing.exports import render_statement

    partner = request.auth.account.partner
    statement = selectors.statements_for(partner).filter(pk=statement_id).first()
    if statement is None:
        raise Http404
    content, content_type, filename = render_statement(statement, fmt)
    AuditEntry.objects.create(
        partner=partner,
        statement=statement,
        action=AuditAction.DOWNLOAD,
        actor=f"API key {request.auth.prefix}",
        detail={"format": fmt, "via": "api", "key": request.auth.pk},
    )
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def not_found(request, rest: str = ""):
    """Any other path under /api/v1/: a JSON 404, like the API's own."""
    return JsonResponse(
        {"error": "not_found", "message": "No such API endpoint.", "errors": []}, status=404
    )
