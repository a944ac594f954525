"""/api/v1/: the endpoints partner software calls. Each parses, calls one service or selector.

A key acts for one client account and reads everything of its partner, nothing else; the errors'
shape and statuses are in docs/api.md.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path as FilePath
from typing import Literal

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from ninja import NinjaAPI, Path, Query
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.params import Header
from ninja.security import HttpBearer

from billing import selectors
from billing.commission import BILLING_ZONE, billing_month, format_period, parse_period, round_total
from billing.models import AuditAction, AuditEntry, Message, Statement
from billing.services.reporting import REFUSED, Reported, record_reported_messages
from billing.statuses import billing_class

from . import rate_limits
from . import schemas as s
from .idempotency import IdempotencyConflict, IdempotencyInProgress, run_once
from .keys import key_for
from .models import ApiKey
from .pages import decode_cursor, encode_cursor
from .sending import SendRefused, send_messages

SINCE_MIN = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
SINCE_MAX = dt.datetime(2999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
MAX_ID = 2**62  # larger ids overflow the database's bigint: answer 400, not 500
GUIDE = FilePath(settings.BASE_DIR) / "docs" / "api.md"
DOCUMENT_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def _errors(*codes: int) -> dict:
    return dict.fromkeys((400, 401, 403, 429, *codes), s.Error)


def _error_items(errors) -> list[dict]:
    return [{"field": f, "code": c, "message": m} for f, c, m in errors]


class ApiError(HttpError):
    def __init__(self, status: int, code: str, message: str, errors=(), headers=None):
        super().__init__(status_code=status, message=message)
        self.code = code
        self.errors = _error_items(errors)
        self.headers = dict(headers or {})


class KeyAuth(HttpBearer):
    openapi_description = "An API key from the portal's API keys page or the admin."

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        """The active key; a request past its API_RATE_LIMIT (partner_api.rate_limits) is 429."""
        key = key_for(token)
        if key is None:
            return None
        if not (key.account.is_active and key.account.partner.is_active):
            raise ApiError(403, "forbidden", "The client account or partner of this key is off.")
        wait = rate_limits.take("api_key", str(key.pk))
        if wait is not None:
            raise Throttled(wait)
        return key


api = NinjaAPI(
    title="Partner Portal API",
    version="1",
    description=GUIDE.read_text(encoding="utf-8") if GUIDE.exists() else "",
    urls_namespace="api_v1",
    auth=KeyAuth(),
    openapi_url="/openapi.json",
    docs_url="/docs",
)


@api.exception_handler(ApiError)
def _api_error(request, exc: ApiError):
    body = {"error": exc.code, "message": str(exc.message), "errors": exc.errors}
    response = api.create_response(request, body, status=exc.status_code)
    for name, value in exc.headers.items():
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
    errors = [(_field(e.get("loc", ())), e.get("type", "invalid"), e["msg"]) for e in exc.errors]
    if any(
        e.get("type") == "too_long"
        and tuple(e.get("loc", ()))[-1:] in {("recipients",), ("messages",)}
        for e in exc.errors
    ):
        error = ApiError(413, "too_many_items", "Too many items in one request.", errors)
    else:
        error = ApiError(400, "invalid_request", "The request is not valid.", errors)
    return _api_error(request, error)


@api.exception_handler(Throttled)
def _throttled(request, exc: Throttled):
    wait = max(1, int(exc.wait or 1))
    message = f"Too many requests for this key; retry in {wait} s."
    return _api_error(
        request, ApiError(429, "rate_limited", message, headers={"Retry-After": str(wait)})
    )


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    # ninja's own: 400 "Cannot parse request body" (not JSON: a form, multipart) and the like.
    code = "invalid_request" if exc.status_code == 400 else "error"
    message = str(exc.message)
    if exc.status_code == 400 and message.startswith("Cannot parse request body"):
        message = "The body is not JSON: send it as JSON with Content-Type: application/json."
    return _api_error(request, ApiError(exc.status_code, code, message))


# ninja's and Django's errors that always answer the same.
_FIXED_ERRORS = {
    AuthenticationError: ApiError(
        401,
        "unauthorized",
        "Give a valid API key: Authorization: Bearer <key>.",
        headers={"WWW-Authenticate": "Bearer"},
    ),
    Http404: ApiError(404, "not_found", "No such object for this partner."),
    RequestDataTooBig: ApiError(413, "too_large", "The request body is too large."),
}
for _exc_class, _answer in _FIXED_ERRORS.items():
    api.add_exception_handler(
        _exc_class, lambda request, exc, error=_answer: _api_error(request, error)
    )


# --- helpers -----------------------------------------------------------------------------------


def _fields(obj, schema: type[s.Schema], **given) -> dict:
    """`schema`'s fields: those `given`, every other one read from `obj`'s attribute of its name."""
    return {
        name: given[name] if name in given else getattr(obj, name) for name in schema.model_fields
    }


def _account_ref(account) -> dict:
    return {"id": account.pk, "name": account.name}


def _aware(value: dt.datetime) -> dt.datetime:
    """A time given without an offset is a Europe/Warsaw (billing) time."""
    return value if timezone.is_aware(value) else timezone.make_aware(value, BILLING_ZONE)


def _message_out(message: Message) -> dict:
    return _fields(
        message,
        s.MessageOut,
        account=_account_ref(message.account),
        type=message.message_type,
        billing=billing_class(message.status, message.ic_proof).value,
        figures_from_serwersms=message.serwersms_figures_at is not None,
        claim=_claim_out(message),
        error=message.error_message,
    )


def _claim_out(message: Message) -> dict | None:
    if message.channel != "reported":
        return None
    return {name: getattr(message, f"claimed_{name}") for name in s.ClaimOut.model_fields}


def _idempotent(request, key: str | None, operation: str, payload: dict, run):
    """Run `run() -> (status, body)`, once per Idempotency-Key when one is given."""
    if not key:
        (status, body), replayed = run(), False
    else:
        try:
            status, body, replayed = run_once(
                account=request.auth.account, operation=operation, key=key, payload=payload, run=run
            )
        except IdempotencyConflict as exc:
            raise ApiError(409, "idempotency_conflict", str(exc)) from None
        except IdempotencyInProgress as exc:
            retry = {"Retry-After": str(exc.retry_after)}
            raise ApiError(409, "idempotency_in_progress", str(exc), headers=retry) from None
    # The body is built to the schema (checked by the schema tests): render it directly
    # rather than validate 10,000 per-item answers again.
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


@api.get("/me", response={200: s.KeyOut, **_errors()}, summary="The key, its account and partner")
def me(request):
    key = request.auth
    return _fields(
        key,
        s.KeyOut,
        account=_account_ref(key.account),
        partner=key.account.partner.name,
        ic=key.account.partner.ic,
    )


@api.post(
    "/messages",
    response={202: s.SendOut, **_errors(409, 413)},
    summary="Send one text to up to 1,000 recipients with your ic",
)
def send(request, payload: s.SendIn, idempotency_key: str | None = IdempotencyKey):
    account = request.auth.account

    def run():
        try:
            messages = send_messages(
                account=account,
                recipients=payload.recipients,
                text=payload.text,
                sender=payload.sender or "",
                channel=payload.channel,
                idempotency_key=idempotency_key or "",
            )
        except SendRefused as exc:
            status, code = (409, "conflict") if exc.conflict else (400, "invalid_request")
            raise ApiError(status, code, str(exc), exc.errors) from None
        body = s.SendOut(messages=[_message_out(m) for m in messages]).model_dump(mode="json")
        return 202, body

    return _idempotent(request, idempotency_key, "send", payload.model_dump(mode="json"), run)


@api.post(
    "/messages/reported",
    response={200: s.ReportOut, **_errors(409, 413)},
    summary="Record up to 10,000 messages your software sent straight to SerwerSMS",
)
def report(request, payload: s.ReportIn, idempotency_key: str | None = IdempotencyKey):
    account = request.auth.account
    items = [
        Reported(
            **m.model_dump(exclude={"type", "sent_at"}),
            message_type=m.type,
            sent_at=_aware(m.sent_at),
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
                    "errors": _error_items(r.errors),
                }
            )
        return 200, {**counts, "results": out}

    return _idempotent(request, idempotency_key, "report", payload.model_dump(mode="json"), run)


@api.get(
    "/messages/{message_id}",
    response={200: s.MessageDetail, **_errors(404)},
    summary="One message with its status history",
)
def message_detail(request, message_id: int = Path(..., ge=1, le=MAX_ID)):
    message = selectors.message_for(request.auth.account.partner, message_id)
    if message is None:
        raise Http404
    events = message.events.order_by("created_at", "id").values(*s.EventOut.model_fields)
    return {**_message_out(message), "events": list(events)}


class MessageFilters(s.Schema):
    status: s.StatusWord | Literal["counted", "pending", "unconfirmed"] | None = s.Field(
        default=None, description="A status, or `counted` / `pending` / `unconfirmed`."
    )
    since: dt.datetime | None = s.Field(default=None, description="Created at or after.")
    account: int | None = s.Field(default=None, ge=1, le=MAX_ID)
    cursor: str | None = s.Field(default=None, max_length=200)
    limit: int = s.Field(default=100, ge=1, le=1000)


@api.get(
    "/messages",
    response={200: s.MessagePage, **_errors()},
    summary="The partner's messages, newest first, one page at a time",
)
def message_list(request, filters: Query[MessageFilters]):
    partner = request.auth.account.partner
    queryset = selectors.messages_for(
        partner, {"status": filters.status, "account": filters.account}
    ).order_by("-created_at", "-id")
    if filters.since:
        try:  # in UTC: offsets the database refuses (over 15:59) too
            since = _aware(filters.since).astimezone(dt.UTC)
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
    response={200: s.CommissionOut, **_errors()},
    summary="A billing month's running figures and commission",
)
def commission(
    request,
    period: str | None = Query(
        None, pattern=r"^2[0-9]{3}-(0[1-9]|1[0-2])$", description="YYYY-MM; default this month."
    ),
):
    partner = request.auth.account.partner
    month = parse_period(period) if period else billing_month(timezone.now())
    figures = selectors.month_figures(partner, month)
    statement = figures.statement
    return _fields(
        figures,
        s.CommissionOut,
        period=format_period(month),
        currency=statement.currency if statement else settings.BILLING_CURRENCY,
        counts_live=not figures.is_closed,
        statement_id=statement.pk if statement else None,
        statement_status=statement.status if statement else None,
        accounts=[
            _fields(row, s.AccountFiguresOut, account=_account_ref(row.account))
            for row in selectors.account_figures(partner, month)
        ],
    )


def _statement_out(request, statement: Statement) -> dict:
    return _fields(
        statement,
        s.StatementOut,
        period=format_period(statement.period),
        unconfirmed_commission=round_total(statement.unconfirmed_commission),
        commission=statement.printed_commission,
        adjustments=statement.printed_adjustments,
        payout=getattr(getattr(statement, "payout", None), "status", None),
        documents=[
            {
                "format": fmt,
                "url": request.build_absolute_uri(
                    reverse("api_v1:statement_document", args=(statement.pk, fmt))
                ),
            }
            for fmt in DOCUMENT_TYPES
        ],
    )


@api.get(
    "/statements",
    response={200: s.StatementList, **_errors()},
    summary="The partner's statements, newest first, with their documents",
)
def statement_list(request):
    statements = selectors.statements_for(request.auth.account.partner).select_related("payout")
    return {"items": [_statement_out(request, st) for st in statements]}


@api.get(
    "/statements/{statement_id}/documents/{fmt}",
    response=_errors(404),
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
    request, fmt: Literal["csv", "xlsx", "pdf"], statement_id: int = Path(..., ge=1, le=MAX_ID)
):
    from billing.exports import render_statement

    partner = request.auth.account.partner
    statement = get_object_or_404(selectors.statements_for(partner), pk=statement_id)
    content, content_type, filename = render_statement(statement, fmt)
    AuditEntry.objects.create(
        partner=partner,
        statement=statement,
        action=AuditAction.DOWNLOAD,
        actor=f"API key {request.auth.prefix}",
        detail={"format": fmt, "via": "api", "key": request.auth.pk},
    )
    return HttpResponse(
        content,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def not_found(request, rest: str = ""):
    """Any other path under /api/v1/: a JSON 404, like the API's own."""
    return JsonResponse(
        {"error": "not_found", "message": "No such API endpoint.", "errors": []}, status=404
    )
