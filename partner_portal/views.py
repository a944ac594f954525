"""Views of the partner portal: parse the request, call one selector, render. Scoping to the
user's partner is done by partner_portal.access."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from billing import reconciliation_selectors, selectors
from billing.commission import billing_month, parse_period
from billing.models import Message, Statement

from . import export_jobs, exports, pagination
from .access import billing_manager_required, get_partner_object_or_404, partner_required
from .charts import daily_chart
from .filters import MessageFilter
from .statement_timeout import limited_statement_time
from .tables import MessageTable


def partner_page(view):
    """A page of the partner's data: partner_required, each query under statement_timeout."""
    return partner_required(limited_statement_time(view))


@partner_page
def dashboard(request: HttpRequest) -> HttpResponse:
    figures = selectors.dashboard_figures(request.partner, timezone.now())
    return render(
        request,
        "portal/dashboard.html",
        {"figures": figures, "chart": daily_chart(figures.series), "nav": "dashboard"},
    )


@partner_page
def message_list(request: HttpRequest) -> HttpResponse:
    return _messages_page(request, MessageFilter(request.GET, partner=request.partner))


def _messages_page(
    request: HttpRequest, message_filter, *, status: int = 200, notice: str = ""
) -> HttpResponse:
    queryset = message_filter.qs
    # Keyset pages: no OFFSET and no COUNT over every matching row (partner_portal.pagination).
    page = pagination.keyset_page(
        queryset,
        ordering=request.GET.get("sort"),
        after=request.GET.get("after"),
        before=request.GET.get("before"),
        per_page=pagination.per_page_from(request.GET.get("per_page")),
    )
    query = request.GET.copy()
    for key in ("after", "before", "sort", "per_page"):
        query.pop(key, None)
    return render(
        request,
        "portal/messages.html",
        {
            "filter": message_filter,
            "table": MessageTable(page.rows, order_by=page.ordering),
            "page": page,
            "summary": pagination.summary_of(queryset, page),
            "per_page_choices": pagination.PER_PAGE_CHOICES,
            "has_messages": bool(page.rows)
            or bool(notice)
            or Message.objects.filter(partner=request.partner).exists(),
            "export_query": query.urlencode(),
            "notice": notice,
            "nav": "messages",
        },
        status=status,
    )


@partner_required
def message_export(request: HttpRequest, fmt: str) -> HttpResponse:
    if fmt not in export_jobs.FORMATS:
        raise Http404("Unknown export format.")
    message_filter = MessageFilter(request.GET, partner=request.partner)
    if message_filter.is_bound and not message_filter.form.is_valid():
        # A filter the form refuses (an account of another partner, an unknown status, an
        # impossible month): the messages page with the form's errors, as a 400, and no file.
        return _messages_page(
            request,
            message_filter,
            status=400,
            notice=_("The export was not made: correct the filters marked below."),
        )
    queryset = message_filter.qs.order_by("-created_at", "-id")
    if export_jobs.is_large(queryset, fmt):  # built by a worker; the page shows its progress
        job = export_jobs.request_export(
            partner=request.partner,
            user=request.user,
            fmt=fmt,
            query=request.GET.urlencode(),
            language=translation.get_language(),
        )
        return redirect("export_status", job.pk)
    respond = exports.messages_csv_response if fmt == "csv" else exports.messages_xlsx_response
    return respond(queryset, request.partner.ic)


@partner_page
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_partner_object_or_404(request, Message.objects.select_related("account"), pk=pk)
    return render(
        request,
        "portal/message_detail.html",
        {
            "message": message,
            "events": message.events.order_by("created_at", "id"),
            "commission": selectors.message_commission(message),
            "nav": "messages",
        },
    )


@partner_page
def statement_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "portal/statements.html",
        {"statements": selectors.statements_for(request.partner), "nav": "statements"},
    )


@partner_page
def statement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    statement = get_partner_object_or_404(
        request, Statement.objects.select_related("partner", "opening_credit_from"), pk=pk
    )
    return render(
        request,
        "portal/statement_detail.html",
        {
            "statement": statement,
            "payout": statement.payout_or_none,
            "lines": selectors.statement_lines(statement),
            "adjustments": selectors.statement_adjustments(statement),
            "audit": selectors.statement_audit(statement),
            "reconciliation": reconciliation_selectors.statement_reconciliation(statement),
            "formats": exports.STATEMENT_FORMATS,
            "nav": "statements",
        },
    )


@billing_manager_required
def statement_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    statement = get_partner_object_or_404(request, Statement, pk=pk)
    if fmt not in exports.STATEMENT_FORMATS:
        raise Http404("Unknown statement format.")
    return exports.statement_download_response(statement, fmt, request.user.get_username())


@partner_page
def account_list(request: HttpRequest) -> HttpResponse:
    current = billing_month(timezone.now())
    try:
        period = parse_period(request.GET.get("period", ""))
    except ValueError:
        period = current
    return render(
        request,
        "portal/accounts.html",
        {
            "period": period,
            "previous_period": selectors.previous_month(period),
            "next_period": selectors.next_month(period) if period < current else None,
            "rows": selectors.account_figures(request.partner, period),
            "month": selectors.month_figures(request.partner, period),
            "currency": settings.BILLING_CURRENCY,
            "nav": "accounts",
        },
    )
