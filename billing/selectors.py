"""Read queries for the portal, the API and exports. The partner is always a parameter, so a
query can never forget whose data it reads."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum

from .commission import (
    Rates,
    Terms,
    Tier,
    TierProgress,
    VersionPicker,
    VersionSpan,
    billing_day,
    billing_month,
    date_range_utc,
    local_midnight_utc,
    next_month,
    previous_month,
    round_total,
    tier_progress,
)
from .models import (
    CLAIM_DIFFERS,
    Agreement,
    ClientAccount,
    DailyRollup,
    Message,
    Partner,
    Statement,
    StatementDay,
    StatementItem,
    StatementLine,
    StatementStatus,
)
from .statuses import COUNTED, PROVEN, BillingClass, Status, billing_class

__all__ = ["next_month", "previous_month"]  # re-exported for views


# --- messages ----------------------------------------------------------------------------------


def messages_for(partner: Partner, filters: dict | None = None) -> QuerySet[Message]:
    """The partner's messages, newest first, narrowed by already-validated filter values:
    date_from/date_to are Europe/Warsaw creation dates (inclusive), period a billing month (the
    messages its statement counts), phone the digits the number contains."""
    filters = filters or {}
    queryset = Message.objects.filter(partner=partner).select_related("account")
    if filters.get("date_from"):
        queryset = queryset.filter(created_at__gte=local_midnight_utc(filters["date_from"]))
    if filters.get("date_to"):
        queryset = queryset.filter(
            created_at__lt=local_midnight_utc(filters["date_to"] + dt.timedelta(days=1))
        )
    if filters.get("period"):
        queryset = queryset.in_billing_month(filters["period"])
    status = filters.get("status")
    if status in ("counted", "pending", "unconfirmed"):  # the queryset's counting-rule methods
        queryset = getattr(queryset, status)()
    elif status:
        queryset = queryset.filter(status=status)
    if filters.get("claim_differs"):
        queryset = queryset.filter(CLAIM_DIFFERS)
    for name in ("ic_proof", "account", "message_type", "channel"):
        if filters.get(name):
            queryset = queryset.filter(**{name: filters[name]})
    if filters.get("phone"):
        digits = "".join(ch for ch in str(filters["phone"]) if ch.isdigit())
        if digits:
            queryset = queryset.filter(phone__contains=digits)
    return queryset


def message_for(partner: Partner, message_id: int) -> Message | None:
    return Message.objects.filter(partner=partner, pk=message_id).select_related("account").first()


# --- month figures: live counts from the rollups, money from the statement ---------------------
#
# One month shows one set of numbers on the dashboard, the client-accounts page, the API and its
# statement: a closed month as its statement billed it, an open one counted live from the
# rollups with the draft's commission "as of" its build (docs/scale.md, "Daily rollups").


@dataclass
class _Counts:
    counted: int = 0
    counted_parts: int = 0
    pending: int = 0
    unsent: int = 0
    delivered: int = 0
    undelivered: int = 0
    # Reported, dispatched, ic not yet confirmed by SerwerSMS: shown apart, never billed.
    unconfirmed: int = 0
    unconfirmed_parts: int = 0

    def add(self, row: dict) -> None:
        """A _month_rollups row (one status and ic proof), sorted by the counting rule."""
        status, messages, parts = row["status"], row["n"] or 0, row["p"] or 0
        kind = billing_class(status, row["ic_proof"])
        if kind == BillingClass.UNCONFIRMED:
            self.unconfirmed += messages
            self.unconfirmed_parts += parts
        elif kind == BillingClass.COUNTED:
            self.counted += messages
            self.counted_parts += parts
            if status == Status.DELIVERED:
                self.delivered += messages
            elif status == Status.UNDELIVERED:
                self.undelivered += messages
        elif kind == BillingClass.PENDING:
            self.pending += messages
        elif status == Status.UNSENT:
            self.unsent += messages
        # Refuted dispatched messages count nowhere (their status stays on the message).


@dataclass(kw_only=True)
class MonthFigures(_Counts):
    period: dt.date
    unconfirmed_commission: Decimal | None = None  # what they would earn once confirmed
    # The statement's payable total (exact sum rounded once); None: no statement built yet.
    commission: Decimal | None = None
    forecast: Decimal | None = None
    total: Decimal | None = None
    statement: Statement | None = None

    @property
    def messages(self) -> int:
        return self.counted + self.pending + self.unsent + self.unconfirmed

    @property
    def is_closed(self) -> bool:
        """The figures are the closed statement's; otherwise the counts are live."""
        return self.statement is not None and self.statement.is_closed

    @property
    def as_of(self) -> dt.datetime | None:
        """When the statement's figures (the commission) were computed."""
        return self.statement.built_at if self.statement else None

    @property
    def delivery_rate(self) -> Decimal | None:
        """Delivered out of the counted (dispatched) messages, in percent."""
        if not self.counted:
            return None
        return (Decimal(self.delivered) * 100 / Decimal(self.counted)).quantize(Decimal("0.1"))


def _month_rollups(partner: Partner, period: dt.date, *by: str):
    """The partner's rollups of one billing month (its Warsaw days) summed by `by`, status and
    ic proof: n messages, p parts."""
    return (
        DailyRollup.objects.filter(partner=partner, day__gte=period, day__lt=next_month(period))
        .values(*by, "status", "ic_proof")
        .annotate(n=Sum("messages"), p=Sum("parts"))
        .order_by()
    )


def live_counts(partner: Partner, period: dt.date) -> _Counts:
    """A billing month's messages counted now from the daily rollups (an open month's figures)."""
    counts = _Counts()
    for row in _month_rollups(partner, period):
        counts.add(row)
    return counts


def _month_statement(partner: Partner, period: dt.date) -> Statement | None:
    return Statement.objects.filter(partner=partner, period=period).first()


def month_figures(partner: Partner, period: dt.date) -> MonthFigures:
    """The figures of a billing month: the closed statement's, or live counts and the draft's
    commission (see above). A few rows read, never the month's messages or items."""
    statement = _month_statement(partner, period)
    if statement is not None and statement.is_closed:
        frozen = StatementLine.objects.filter(statement=statement).aggregate(
            delivered=Sum("delivered_messages"), undelivered=Sum("undelivered_messages")
        )
        counts = _Counts(
            counted=statement.counted_messages,
            counted_parts=statement.counted_parts,
            pending=statement.pending_messages,
            unsent=statement.unsent_messages,
            delivered=frozen["delivered"] or 0,
            undelivered=frozen["undelivered"] or 0,
            unconfirmed=statement.unconfirmed_messages,
            unconfirmed_parts=statement.unconfirmed_parts,
        )
    else:
        counts = live_counts(partner, period)
    figures = MonthFigures(period=period, statement=statement, **asdict(counts))
    if statement is not None:
        figures.commission = statement.total
        figures.forecast = round_total(statement.forecast_commission)
        figures.unconfirmed_commission = round_total(statement.unconfirmed_commission)
        figures.total = statement.total
    return figures


@dataclass
class DayPoint:
    day: dt.date
    counted: int = 0
    commission: Decimal = Decimal("0")


def daily_series(partner: Partner, today: dt.date, days: int = 90) -> list[DayPoint]:
    """Counted messages and commission per Warsaw day, oldest first: counted live from the
    rollups in open months, as billed in closed ones (so their bars add up to the statement);
    commission from the statements' days (closed, or the draft as of its build)."""
    first = today - dt.timedelta(days=days - 1)
    points = {day: DayPoint(day) for day in (first + dt.timedelta(days=n) for n in range(days))}
    closed = set(
        Statement.objects.filter(
            partner=partner,
            status=StatementStatus.CLOSED,
            period__gte=first.replace(day=1),
            period__lte=today,
        ).values_list("period", flat=True)
    )
    live = (
        DailyRollup.objects.filter(
            partner=partner,
            day__gte=first,
            day__lte=today,
            status__in=sorted(COUNTED),
            ic_proof__in=sorted(PROVEN),
        )
        .values("day")
        .annotate(n=Sum("messages"))
        .order_by()
    )
    for row in live:
        if row["day"].replace(day=1) not in closed:
            points[row["day"]].counted = row["n"] or 0
    rows = (
        StatementDay.objects.filter(statement__partner=partner, day__gte=first, day__lte=today)
        .values("day")
        .annotate(n=Sum("counted_messages"), total=Sum("commission"))
        .order_by()
    )
    for row in rows:
        if row["day"].replace(day=1) in closed:
            points[row["day"]].counted = row["n"]
        points[row["day"]].commission = round_total(Decimal(str(row["total"] or 0)))
    return list(points.values())


# --- agreements: the commission terms ----------------------------------------------------------


def terms_of(agreement: Agreement) -> Terms:
    """An Agreement (with its tiers) as the pure commission terms."""
    return Terms(
        basis=agreement.basis,
        rates=Rates.of(agreement),
        tiers=tuple(Tier(t.from_volume, Rates.of(t)) for t in agreement.tiers.all()),
        ref=agreement.pk,
    )


@dataclass
class AgreementVersions:
    picker: VersionPicker  # the version valid at an instant; its spans carry every version


def agreement_versions(partner: Partner, start: dt.datetime, end: dt.datetime) -> AgreementVersions:
    """The agreement versions of a partner valid at some point of [start, end)."""
    spans = []
    agreements = Agreement.objects.filter(partner=partner).prefetch_related("tiers")
    for agreement in agreements:
        span_start, span_end = date_range_utc(agreement.valid_from, agreement.valid_to)
        if span_start >= end or (span_end is not None and span_end <= start):
            continue
        spans.append(VersionSpan(span_start, span_end, terms_of(agreement)))
    return AgreementVersions(VersionPicker(spans))


def agreements_of(statement: Statement) -> list[Agreement]:
    """The agreement versions that priced a statement (from its lines)."""
    ids = statement.lines.exclude(agreement=None).values_list("agreement_id", flat=True)
    return list(Agreement.objects.filter(pk__in=ids.distinct()).order_by("valid_from"))


@dataclass
class AgreementInForce:
    agreement: Agreement
    progress: TierProgress


def agreement_in_force(partner: Partner, now: dt.datetime, counted: int) -> AgreementInForce | None:
    """The agreement version valid now (Warsaw date) and this month's progress to its next tier."""
    today = billing_day(now)
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
    """Everything the dashboard shows: rollups and statements only, never messages or items."""
    period = billing_month(now)
    accounts = [row for row in account_figures(partner, period) if row.counted or row.pending]
    accounts.sort(key=lambda row: (-row.counted, row.account.name))
    this_month = month_figures(partner, period)
    return Dashboard(
        this_month=this_month,
        last_month=month_figures(partner, previous_month(period)),
        series=daily_series(partner, billing_day(now)),
        top_accounts=accounts[:5],
        has_messages=DailyRollup.objects.filter(partner=partner, messages__gt=0).exists(),
        agreement=agreement_in_force(partner, now, this_month.counted),
    )


# --- client accounts ---------------------------------------------------------------------------


@dataclass(kw_only=True)
class AccountFigures(_Counts):
    account: ClientAccount
    commission: Decimal = Decimal("0")  # as printed
    unconfirmed_commission: Decimal = Decimal("0")


def account_figures(partner: Partner, period: dt.date) -> list[AccountFigures]:
    """Every client account of the partner with its figures for one billing month, by the rule
    of month_figures: as its closed statement's lines billed, or live counts and the draft's
    commission (zero when no draft is built)."""
    by_account = {a.pk: AccountFigures(account=a) for a in accounts_for(partner)}
    statement = _month_statement(partner, period)
    closed = statement is not None and statement.is_closed
    if not closed:
        for row in _month_rollups(partner, period, "account_id"):
            if row["account_id"] in by_account:
                by_account[row["account_id"]].add(row)
    if statement is not None:
        exact: dict[int, Decimal] = defaultdict(Decimal)
        unconfirmed: dict[int, Decimal] = defaultdict(Decimal)
        for line in StatementLine.objects.filter(statement=statement).order_by():
            row = by_account.get(line.account_id)
            if row is None:
                continue
            if closed:
                row.counted += line.counted_messages
                row.counted_parts += line.counted_parts
                row.pending += line.pending_messages
                row.unsent += line.unsent_messages
                row.delivered += line.delivered_messages
                row.undelivered += line.undelivered_messages
                row.unconfirmed += line.unconfirmed_messages
                row.unconfirmed_parts += line.unconfirmed_parts
            exact[line.account_id] += line.commission
            unconfirmed[line.account_id] += line.unconfirmed_commission
        for account_id, amount in exact.items():
            by_account[account_id].commission = round_total(amount)
            by_account[account_id].unconfirmed_commission = round_total(unconfirmed[account_id])
    return list(by_account.values())


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
