"""Read queries for the portal, the API and exports. The partner is always a parameter, so a
query can never forget whose data it reads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet, Sum

from .commission import (
    BILLING_ZONE,
    TierProgress,
    billing_month,
    next_month,
    previous_month,
    round_total,
    tier_progress,
)
from .models import (
    IS_COUNTED,
    Agreement,
    ClientAccount,
    Message,
    Partner,
    Statement,
    StatementDay,
    StatementItem,
    StatementLine,
)
from .statuses import Status

__all__ = ["next_month", "previous_month"]  # re-exported for views


def billing_zone() -> ZoneInfo:
    """The zone of billing months (a rule of commission.py, not a setting)."""
    return BILLING_ZONE


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=billing_zone())


# --- messages ----------------------------------------------------------------------------------


def messages_for(partner: Partner, filters: dict | None = None) -> QuerySet[Message]:
    """The partner's messages, newest first, narrowed by already-validated filter values.

    Known keys: date_from/date_to (Europe/Warsaw dates of creation, inclusive), period (a
    billing month: the same messages its statement counts), status (a status or one of
    "counted"/"pending"), account (a ClientAccount or id), message_type, channel, phone
    (digits contained in the number).
    """
    filters = filters or {}
    queryset = Message.objects.filter(partner=partner).select_related("account")
    if filters.get("date_from"):
        queryset = queryset.filter(created_at__gte=day_start(filters["date_from"]))
    if filters.get("date_to"):
        queryset = queryset.filter(
            created_at__lt=day_start(filters["date_to"] + dt.timedelta(days=1))
        )
    if filters.get("period"):
        queryset = queryset.in_billing_month(filters["period"])
    status = filters.get("status")
    if status == "counted":
        queryset = queryset.counted()
    elif status == "pending":
        queryset = queryset.pending()
    elif status:
        queryset = queryset.filter(status=status)
    if filters.get("account"):
        queryset = queryset.filter(account=filters["account"])
    if filters.get("message_type"):
        queryset = queryset.filter(message_type=filters["message_type"])
    if filters.get("channel"):
        queryset = queryset.filter(channel=filters["channel"])
    if filters.get("phone"):
        digits = "".join(ch for ch in str(filters["phone"]) if ch.isdigit())
        if digits:
            queryset = queryset.filter(phone__contains=digits)
    return queryset


@dataclass
class MessageTotals:
    messages: int = 0
    parts: int = 0
    counted: int = 0


def message_totals(queryset: QuerySet[Message]) -> MessageTotals:
    """Row count, parts and counted messages of a (filtered) message queryset: one query."""
    row = queryset.order_by().aggregate(
        messages=Count("id"),
        parts=Sum("parts"),
        counted=Count("id", filter=IS_COUNTED),
    )
    return MessageTotals(
        messages=row["messages"] or 0, parts=row["parts"] or 0, counted=row["counted"] or 0
    )


def message_for(partner: Partner, message_id: int) -> Message | None:
    return Message.objects.filter(partner=partner, pk=message_id).select_related("account").first()


# --- dashboard: one source, the month's statement ----------------------------------------------
#
# The dashboard, the client-accounts page and the statement page read the same rows: the
# month's statement (a draft rebuilt after every status change, or the closed one). So one month
# shows one set of numbers everywhere, with the time they are "as of".


@dataclass
class MonthFigures:
    period: dt.date
    counted: int = 0
    counted_parts: int = 0
    pending: int = 0
    unsent: int = 0
    delivered: int = 0
    undelivered: int = 0
    # The statement's payable total (exact sum rounded once); None: no statement built yet.
    commission: Decimal | None = None
    forecast: Decimal | None = None
    total: Decimal | None = None
    statement: Statement | None = None

    @property
    def messages(self) -> int:
        return self.counted + self.pending + self.unsent

    @property
    def as_of(self) -> dt.datetime | None:
        return self.statement.built_at if self.statement else None

    @property
    def delivery_rate(self) -> Decimal | None:
        """Delivered out of the counted (dispatched) messages, in percent."""
        if not self.counted:
            return None
        return (Decimal(self.delivered) * 100 / Decimal(self.counted)).quantize(Decimal("0.1"))


def _delivery_counts(statement: Statement, by_account: bool = False) -> list[dict]:
    """Delivered / undelivered among the statement's counted messages (its items)."""
    counts = {
        "delivered": Count("id", filter=Q(status=Status.DELIVERED)),
        "undelivered": Count("id", filter=Q(status=Status.UNDELIVERED)),
    }
    items = StatementItem.objects.filter(statement=statement).order_by()
    if not by_account:
        return [items.aggregate(**counts)]
    return list(items.values("message__account_id").annotate(**counts))


def month_figures(partner: Partner, period: dt.date) -> MonthFigures:
    """The figures of a billing month as its statement states them."""
    figures = MonthFigures(period=period)
    statement = Statement.objects.filter(partner=partner, period=period).first()
    if statement is None:
        return figures
    figures.statement = statement
    figures.counted = statement.counted_messages
    figures.counted_parts = statement.counted_parts
    figures.pending = statement.pending_messages
    figures.unsent = statement.unsent_messages
    figures.commission = statement.total
    figures.forecast = round_total(statement.forecast_commission)
    figures.total = statement.total
    for row in _delivery_counts(statement):
        figures.delivered, figures.undelivered = row["delivered"], row["undelivered"]
    return figures


@dataclass
class DayPoint:
    day: dt.date
    counted: int = 0
    commission: Decimal = field(default_factory=lambda: Decimal("0"))


def daily_series(partner: Partner, today: dt.date, days: int = 90) -> list[DayPoint]:
    """Counted messages and commission per Warsaw day, oldest first: the statements' items, as
    the statement build summed them per day (StatementDay), never joined to the messages."""
    first = today - dt.timedelta(days=days - 1)
    points = {
        first + dt.timedelta(days=n): DayPoint(first + dt.timedelta(days=n)) for n in range(days)
    }
    rows = (
        StatementDay.objects.filter(statement__partner=partner, day__gte=first, day__lte=today)
        .values("day")
        .annotate(n=Sum("counted_messages"), total=Sum("commission"))
        .order_by()
    )
    for row in rows:
        points[row["day"]].counted = row["n"]
        points[row["day"]].commission = round_total(Decimal(str(row["total"] or 0)))
    return list(points.values())


@dataclass
class AgreementInForce:
    agreement: Agreement
    progress: TierProgress


def agreement_in_force(partner: Partner, now: dt.datetime, counted: int) -> AgreementInForce | None:
    """The agreement version valid now (Warsaw date) and this month's progress to its next tier."""
    from .services.statements import terms_of

    today = now.astimezone(billing_zone()).date()
    agreement = (
        Agreement.objects.filter(partner=partner, valid_from__lte=today)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=today))
        .prefetch_related("tiers")
        .first()
    )
    if agreement is None:
        return None
    return AgreementInForce(agreement, tier_progress(terms_of(agreement), counted))


@dataclass
class Dashboard:
    this_month: MonthFigures
    last_month: MonthFigures
    series: list[DayPoint]
    top_accounts: list[AccountFigures]
    has_messages: bool
    agreement: AgreementInForce | None = None


def dashboard_figures(partner: Partner, now: dt.datetime) -> Dashboard:
    """Everything the dashboard shows, from the statements (the one place to swap for rollups)."""
    period = billing_month(now)
    accounts = [row for row in account_figures(partner, period) if row.counted or row.pending]
    accounts.sort(key=lambda row: (-row.counted, row.account.name))
    this_month = month_figures(partner, period)
    return Dashboard(
        this_month=this_month,
        last_month=month_figures(partner, previous_month(period)),
        series=daily_series(partner, now.astimezone(billing_zone()).date()),
        top_accounts=accounts[:5],
        has_messages=Message.objects.filter(partner=partner).exists(),
        agreement=agreement_in_force(partner, now, this_month.counted),
    )


# --- client accounts ---------------------------------------------------------------------------


@dataclass
class AccountFigures:
    account: ClientAccount
    counted: int = 0
    counted_parts: int = 0
    pending: int = 0
    unsent: int = 0
    delivered: int = 0
    undelivered: int = 0
    commission: Decimal = field(default_factory=lambda: Decimal("0"))  # as printed


def account_figures(partner: Partner, period: dt.date) -> list[AccountFigures]:
    """Every client account of the partner with its figures for one billing month, from the
    month's statement lines (zeros when no statement is built yet)."""
    by_account: dict[int, AccountFigures] = {}
    accounts = list(ClientAccount.objects.filter(partner=partner).order_by("name"))
    for account in accounts:
        by_account[account.pk] = AccountFigures(account=account)
    statement = Statement.objects.filter(partner=partner, period=period).first()
    if statement is not None:
        exact: dict[int, Decimal] = {}
        for line in StatementLine.objects.filter(statement=statement).order_by():
            row = by_account.get(line.account_id)
            if row is None:
                continue
            row.counted += line.counted_messages
            row.counted_parts += line.counted_parts
            row.pending += line.pending_messages
            row.unsent += line.unsent_messages
            exact[line.account_id] = exact.get(line.account_id, Decimal("0")) + line.commission
        for account_id, amount in exact.items():
            by_account[account_id].commission = round_total(amount)
        for delivery in _delivery_counts(statement, by_account=True):
            row = by_account.get(delivery["message__account_id"])
            if row is not None:
                row.delivered, row.undelivered = delivery["delivered"], delivery["undelivered"]
    return [by_account[a.pk] for a in accounts]


def accounts_for(partner: Partner) -> QuerySet[ClientAccount]:
    return ClientAccount.objects.filter(partner=partner).order_by("name")


# --- statements --------------------------------------------------------------------------------


def statements_for(partner: Partner) -> QuerySet[Statement]:
    return Statement.objects.filter(partner=partner).select_related("payout").order_by("-period")


def statement_lines(statement: Statement):
    return statement.lines.select_related("account", "agreement").order_by(
        "account__name", "message_type"
    )


def statement_adjustments(statement: Statement):
    return statement.adjustments.select_related("message").order_by("created_at", "id")


def statement_audit(statement: Statement):
    return statement.audit_entries.order_by("created_at", "id")


# --- a message's commission --------------------------------------------------------------------


@dataclass
class MessageCommission:
    """What a message earned, under which rule, on which statement (and later corrections)."""

    items: list[StatementItem]
    adjustments: list


def message_commission(message: Message) -> MessageCommission:
    items = list(
        message.statement_items.select_related("statement", "agreement").order_by(
            "statement__period", "id"
        )
    )
    adjustments = list(message.adjustments.select_related("statement").order_by("created_at", "id"))
    return MessageCommission(items=items, adjustments=adjustments)
