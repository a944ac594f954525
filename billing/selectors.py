"""Read queries for the portal, the API and exports. The partner is always a parameter, so a
query can never forget whose data it reads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from .models import (
    ClientAccount,
    Message,
    Partner,
    Statement,
    StatementItem,
)
from .statuses import COUNTED, PENDING, Status

_COUNTED = [s.value for s in COUNTED]
_PENDING = [s.value for s in PENDING]


def billing_zone() -> ZoneInfo:
    return ZoneInfo(settings.BILLING_TIME_ZONE)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def previous_month(period: dt.date) -> dt.date:
    return (period.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def next_month(period: dt.date) -> dt.date:
    return (period.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def month_bounds(period: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The aware instants [start, end) of a Europe/Warsaw billing month."""
    zone = billing_zone()
    start = dt.datetime(period.year, period.month, 1, tzinfo=zone)
    end_day = next_month(period)
    end = dt.datetime(end_day.year, end_day.month, 1, tzinfo=zone)
    return start, end


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=billing_zone())


# --- messages ----------------------------------------------------------------------------------


def messages_for(partner: Partner, filters: dict | None = None) -> QuerySet[Message]:
    """The partner's messages, newest first, narrowed by already-validated filter values.

    Known keys: date_from/date_to (Europe/Warsaw dates of creation, inclusive), status (a status
    or one of "counted"/"pending"), account (a ClientAccount or id), message_type, channel,
    phone (digits contained in the number).
    """
    filters = filters or {}
    queryset = Message.objects.filter(partner=partner).select_related("account")
    if filters.get("date_from"):
        queryset = queryset.filter(created_at__gte=day_start(filters["date_from"]))
    if filters.get("date_to"):
        queryset = queryset.filter(
            created_at__lt=day_start(filters["date_to"] + dt.timedelta(days=1))
        )
    status = filters.get("status")
    if status == "counted":
        queryset = queryset.filter(status__in=_COUNTED)
    elif status == "pending":
        queryset = queryset.filter(status__in=_PENDING)
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
        counted=Count("id", filter=Q(status__in=_COUNTED)),
    )
    return MessageTotals(
        messages=row["messages"] or 0, parts=row["parts"] or 0, counted=row["counted"] or 0
    )


def message_for(partner: Partner, message_id: int) -> Message | None:
    return Message.objects.filter(partner=partner, pk=message_id).select_related("account").first()


# --- dashboard ---------------------------------------------------------------------------------


@dataclass
class MonthFigures:
    period: dt.date
    counted: int = 0
    counted_parts: int = 0
    pending: int = 0
    unsent: int = 0
    delivered: int = 0
    undelivered: int = 0
    commission: Decimal | None = None  # None: no statement built for the month yet
    statement: Statement | None = None

    @property
    def total(self) -> int:
        return self.counted + self.pending + self.unsent

    @property
    def delivery_rate(self) -> Decimal | None:
        """Delivered out of the counted (dispatched) messages, in percent."""
        if not self.counted:
            return None
        return (Decimal(self.delivered) * 100 / Decimal(self.counted)).quantize(Decimal("0.1"))


def _status_aggregates() -> dict:
    return {
        "counted": Count("id", filter=Q(status__in=_COUNTED)),
        "counted_parts": Sum("parts", filter=Q(status__in=_COUNTED)),
        "pending": Count("id", filter=Q(status__in=_PENDING)),
        "unsent": Count("id", filter=Q(status=Status.UNSENT)),
        "delivered": Count("id", filter=Q(status=Status.DELIVERED)),
        "undelivered": Count("id", filter=Q(status=Status.UNDELIVERED)),
    }


def _in_month(queryset: QuerySet[Message], period: dt.date) -> QuerySet[Message]:
    """Messages of a billing month: by dispatch time; not yet dispatched ones by creation."""
    start, end = month_bounds(period)
    return queryset.filter(
        Q(dispatched_at__gte=start, dispatched_at__lt=end)
        | Q(dispatched_at__isnull=True, created_at__gte=start, created_at__lt=end)
    )


def month_figures(partner: Partner, period: dt.date) -> MonthFigures:
    row = _in_month(Message.objects.filter(partner=partner), period).aggregate(
        **_status_aggregates()
    )
    figures = MonthFigures(period=period, **{key: value or 0 for key, value in row.items()})
    statement = Statement.objects.filter(partner=partner, period=period).first()
    if statement is not None:
        figures.statement = statement
        figures.commission = StatementItem.objects.filter(statement=statement).aggregate(
            total=Sum("amount")
        )["total"] or Decimal("0")
    return figures


@dataclass
class DayPoint:
    day: dt.date
    counted: int = 0
    commission: Decimal = field(default_factory=lambda: Decimal("0"))


def daily_series(partner: Partner, today: dt.date, days: int = 90) -> list[DayPoint]:
    """Counted messages and commission (from statement items) per Warsaw day, oldest first."""
    zone = billing_zone()
    first = today - dt.timedelta(days=days - 1)
    start, end = day_start(first), day_start(today + dt.timedelta(days=1))
    points = {
        first + dt.timedelta(days=n): DayPoint(first + dt.timedelta(days=n)) for n in range(days)
    }
    counted = (
        Message.objects.filter(
            partner=partner, status__in=_COUNTED, dispatched_at__gte=start, dispatched_at__lt=end
        )
        .annotate(day=TruncDate("dispatched_at", tzinfo=zone))
        .values("day")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in counted:
        if row["day"] in points:
            points[row["day"]].counted = row["n"]
    amounts = (
        StatementItem.objects.filter(
            statement__partner=partner,
            message__dispatched_at__gte=start,
            message__dispatched_at__lt=end,
        )
        .annotate(day=TruncDate("message__dispatched_at", tzinfo=zone))
        .values("day")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for row in amounts:
        if row["day"] in points:
            points[row["day"]].commission = row["total"] or Decimal("0")
    return list(points.values())


@dataclass
class Dashboard:
    this_month: MonthFigures
    last_month: MonthFigures
    series: list[DayPoint]
    top_accounts: list[AccountFigures]
    has_messages: bool


def dashboard_figures(partner: Partner, now: dt.datetime) -> Dashboard:
    today = now.astimezone(billing_zone()).date()
    period = month_start(today)
    accounts = [row for row in account_figures(partner, period) if row.counted or row.pending]
    accounts.sort(key=lambda row: (-row.counted, row.account.name))
    return Dashboard(
        this_month=month_figures(partner, period),
        last_month=month_figures(partner, previous_month(period)),
        series=daily_series(partner, today),
        top_accounts=accounts[:5],
        has_messages=Message.objects.filter(partner=partner).exists(),
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


def account_figures(partner: Partner, period: dt.date) -> list[AccountFigures]:
    """Every client account of the partner with its figures for one billing month."""
    rows = (
        _in_month(Message.objects.filter(partner=partner), period)
        .values("account_id")
        .annotate(**_status_aggregates())
        .order_by()
    )
    by_account = {row.pop("account_id"): row for row in rows}
    result = []
    for account in ClientAccount.objects.filter(partner=partner).order_by("name"):
        row = by_account.get(account.pk, {})
        result.append(
            AccountFigures(account=account, **{key: value or 0 for key, value in row.items()})
        )
    return result


def accounts_for(partner: Partner) -> QuerySet[ClientAccount]:
    return ClientAccount.objects.filter(partner=partner).order_by("name")


# --- statements --------------------------------------------------------------------------------


def statements_for(partner: Partner) -> QuerySet[Statement]:
    return Statement.objects.filter(partner=partner).order_by("-period")


def statement_lines(statement: Statement):
    return statement.lines.select_related("account", "agreement").order_by(
        "account__name", "message_type"
    )


def statement_adjustments(statement: Statement):
    return statement.adjustments.select_related("message").order_by("created_at", "id")


def statement_audit(statement: Statement):
    return statement.audit_entries.order_by("created_at", "id")
