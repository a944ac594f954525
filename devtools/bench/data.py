"""Synthetic traffic for `manage.py bench`: N messages of a realistic shape, written through the
product's own bulk paths (COPY on PostgreSQL, bulk_create elsewhere), statements closed by the
statement service. Bench rows are recognised by their partners' ic range (BENCH_IC_BASE + n).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection, models, transaction

from billing.commission import billing_month, month_bounds_utc, previous_month
from billing.models import (
    Agreement,
    AgreementTier,
    ClientAccount,
    DailyRollup,
    Message,
    Partner,
    PartnerStaff,
    StaffRole,
    Statement,
    StatusEvent,
)
from billing.services import rollups
from billing.services.statement_closing import close_statement
from billing.services.statements import build_statement
from billing.statuses import COUNTED


class _Table:
    """A weighted choice with its cumulative weights computed once."""

    def __init__(self, pairs):
        self.values = [v for v, _ in pairs]
        self.cum = list(itertools.accumulate(w for _, w in pairs))

    def pick(self, rng: random.Random):
        return rng.choices(self.values, cum_weights=self.cum)[0]


BENCH_IC_BASE = 990_000_000
PARTNERS = 20
BIG_SHARE = 0.40  # the big partner's share of all messages
MONTHS = 18  # the current month and the 17 before it
RECENT_HOURS = 12  # younger messages are still pending or sent (the poll pass's work)
CHUNK = 20_000
MANAGER_USERNAME = "bench-billing-manager"

CHANNELS = _Table([("api_v2", 85), ("xml_api", 7), ("email2sms", 3), ("reported", 5)])
TYPES = _Table([("eco", 70), ("full", 25), ("mms", 3), ("voice", 2)])
PARTS = _Table([(1, 75), (2, 20), (3, 5)])
PRICE = {"eco": Decimal("0.0350"), "full": Decimal("0.0850"), "mms": Decimal("0.2000")}
PRICE["voice"] = Decimal("0.1200")
OLD_STATUSES = _Table([("delivered", 88), ("undelivered", 5), ("unsent", 4), ("sent", 3)])
RECENT_STATUSES = _Table([("queued", 35), ("in_progress", 10), ("sent", 40), ("delivered", 15)])
MATCH = {"api_v2": "send", "xml_api": "send", "email2sms": "phone_time", "reported": "reported"}
Progress = Callable[[int], None]


@dataclass
class BenchWorld:
    """What the generator made: the partners, the big one, its manager, the months."""

    now: dt.datetime
    partners: list[Partner]
    accounts: dict[int, list[ClientAccount]]  # partner pk -> accounts, biggest first
    manager: object  # the big partner's billing manager (a User)
    months: list[dt.date]  # oldest first; the last is the current month
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def big(self) -> Partner:
        return self.partners[0]

    @property
    def current_month(self) -> dt.date:
        return self.months[-1]

    @property
    def last_full_month(self) -> dt.date:
        return self.months[-2]


def bench_partners():
    return Partner.objects.filter(ic__gt=BENCH_IC_BASE, ic__lte=BENCH_IC_BASE + PARTNERS)


def foreign_messages_exist() -> bool:
    """Messages that are not bench data: the bench refuses to run beside real traffic."""
    return Message.objects.exclude(partner__in=bench_partners()).exists()


def load_world(now: dt.datetime) -> BenchWorld | None:
    """The bench data already in the database, or None."""
    partners = list(bench_partners().order_by("ic"))
    if len(partners) != PARTNERS:
        return None
    manager = get_user_model().objects.filter(username=MANAGER_USERNAME).first()
    if manager is None:
        return None
    return BenchWorld(
        now=now,
        partners=partners,
        accounts=_accounts_by_partner(partners),
        manager=manager,
        months=_months(now),
        counts=row_counts(partners),
    )


def row_counts(partners: Iterable[Partner]) -> dict[str, int]:
    partner_ids = [p.pk for p in partners]
    return {
        "messages": Message.objects.filter(partner_id__in=partner_ids).count(),
        "status_events": StatusEvent.objects.filter(message__partner_id__in=partner_ids).count(),
        "statements": Statement.objects.filter(partner_id__in=partner_ids).count(),
        "closed_statements": Statement.objects.filter(
            partner_id__in=partner_ids, status="closed"
        ).count(),
        "statement_items": Statement.items.rel.related_model.objects.filter(
            statement__partner_id__in=partner_ids
        ).count(),
    }


def _accounts_by_partner(partners: list[Partner]) -> dict[int, list[ClientAccount]]:
    result: dict[int, list[ClientAccount]] = {p.pk: [] for p in partners}
    for account in ClientAccount.objects.filter(partner__in=partners).order_by("name"):
        result[account.partner_id].append(account)
    return result


def _months(now: dt.datetime) -> list[dt.date]:
    """The billing months (commission.py) of the bench, oldest first, ending with now's."""
    months = [billing_month(now)]
    while len(months) < MONTHS:
        months.insert(0, previous_month(months[0]))
    return months


# --- partners, accounts, agreements, staff ------------------------------------------------------


def _partner_weights() -> list[float]:
    """The big partner holds BIG_SHARE; the other 19 share the rest, Zipf-like."""
    rest = [1 / (n + 1) for n in range(PARTNERS - 1)]
    scale = (1 - BIG_SHARE) / sum(rest)
    return [BIG_SHARE] + [w * scale for w in rest]


def _accounts_count(index: int) -> int:
    return 12 if index == 0 else 2 + index % 6


def create_partners(now: dt.datetime) -> BenchWorld:
    months = _months(now)
    with transaction.atomic():
        partners = []
        for index in range(PARTNERS):
            name = f"Bench partner {index + 1:02d}" + (" (big)" if index == 0 else "")
            partners.append(
                Partner.objects.create(name=name, ic=BENCH_IC_BASE + index + 1, created_at=now)
            )
        for index, partner in enumerate(partners):
            ClientAccount.objects.bulk_create(
                ClientAccount(
                    partner=partner,
                    name=f"bench-p{index + 1:02d}-a{n + 1:02d}",
                    api_token=f"bench-token-{index + 1}-{n + 1}",
                    callback_secret=f"bench-callback-{index + 1}-{n + 1}",
                    created_at=now,
                )
                for n in range(_accounts_count(index))
            )
            agreement = Agreement.objects.create(
                partner=partner,
                valid_from=previous_month(months[0]),
                basis="per_part",
                rate_eco=Decimal("0.0100"),
                rate_full=Decimal("0.0200"),
                rate_mms=Decimal("0.0500"),
                rate_voice=Decimal("0.0300"),
            )
            if index == 0:
                # The big partner earns less per message past 10,000 counted messages a month.
                AgreementTier.objects.create(
                    agreement=agreement,
                    from_volume=10_000,
                    rate_eco=Decimal("0.0080"),
                    rate_full=Decimal("0.0160"),
                    rate_mms=Decimal("0.0400"),
                    rate_voice=Decimal("0.0250"),
                )
        user_model = get_user_model()
        manager = user_model.objects.filter(username=MANAGER_USERNAME).first()
        if manager is None:
            manager = user_model.objects.create_user(username=MANAGER_USERNAME, password=None)
        PartnerStaff.objects.update_or_create(
            user=manager, defaults={"partner": partners[0], "role": StaffRole.BILLING_MANAGER}
        )
    return BenchWorld(
        now=now,
        partners=partners,
        accounts=_accounts_by_partner(partners),
        manager=manager,
        months=months,
    )


# --- messages and status events -----------------------------------------------------------------


def _month_counts(total: int, months: list[dt.date], now: dt.datetime) -> list[int]:
    """Traffic grows over the 18 months (1x to 2x); the current month only up to now."""
    weights = []
    for n, period in enumerate(months):
        weight = 1 + n / max(len(months) - 1, 1)
        start, end = month_bounds_utc(period)
        if end > now:
            weight *= max((now - start) / (end - start), 0.01)
        weights.append(weight)
    counts = [int(total * w / sum(weights)) for w in weights]
    counts[-2] += total - sum(counts)  # rounding goes to the last full month
    return counts


def _message_values(
    rng: random.Random, pk: int, created: dt.datetime, now: dt.datetime, partner, account
) -> dict:
    channel = CHANNELS.pick(rng)
    message_type = TYPES.pick(rng)
    parts = PARTS.pick(rng)
    recent = now - created < dt.timedelta(hours=RECENT_HOURS)
    status = (RECENT_STATUSES if recent else OLD_STATUSES).pick(rng)
    queued = created + dt.timedelta(seconds=1)
    dispatched = status in COUNTED
    sent = created + dt.timedelta(seconds=5) if dispatched else None
    delivered = created + dt.timedelta(seconds=40) if status == "delivered" else None
    reason = {"undelivered": "absent_subscriber", "unsent": "number_blocked"}.get(status, "")
    return {
        "id": pk,
        "partner_id": partner.pk,
        "account_id": account.pk,
        "ic": partner.ic,
        "channel": channel,
        "serwersms_id": f"b{pk:011d}",
        "unique_id": f"bench-{pk}",
        "phone": f"+48{rng.randrange(500_000_000, 900_000_000)}",
        "sender": "" if message_type == "eco" else "SHOP",
        "message_type": message_type,
        "text_length": rng.randrange(20, 150 * parts),
        "parts": parts,
        "cost": PRICE[message_type] * parts,
        "status": status,
        "reason": reason,
        "match_method": MATCH[channel],
        "created_at": created,
        "queued_at": queued,
        "sent_at": sent,
        "delivered_at": delivered,
        "dispatched_at": sent or queued,
        "last_checked_at": delivered or sent,
    }


def _events_for(values: dict, next_id: Callable[[], int]) -> Iterator[dict]:
    """The history a message of this status has: queued by the send, then poll/callback."""
    status, pk = values["status"], values["id"]
    steps = [("send", "submitting", "queued", values["queued_at"])]
    if status in COUNTED:
        steps.append(("poll", "queued", "sent", values["sent_at"]))
    if status == "delivered":
        steps.append(("callback", "sent", "delivered", values["delivered_at"]))
    if status == "undelivered":
        steps.append(("callback", "sent", "undelivered", values["sent_at"]))
    if status == "unsent":
        steps.append(("poll", "queued", "unsent", values["queued_at"]))
    if status == "in_progress":
        steps.append(("poll", "queued", "in_progress", values["queued_at"]))
    for source, old, new, at in steps:
        yield {
            "id": next_id(),
            "message_id": pk,
            "source": source,
            "old_status": old,
            "new_status": new,
            "applied": True,
            "status_at": at,
            "created_at": at,
        }


class _Writer:
    """Rows of one model written in chunks: COPY on PostgreSQL, bulk_create elsewhere.

    Columns the generator does not set take the model field's default, so a field added later
    with a default does not break the bench.
    """

    def __init__(self, model: type[models.Model]):
        self.model = model
        # A GeneratedField (e.g. Message.billing_at) is computed by the database.
        self.fields = [f for f in model._meta.concrete_fields if not getattr(f, "generated", False)]
        self.defaults = {}
        for f in self.fields:
            if f.has_default():
                self.defaults[f.attname] = f.get_default()
            elif f.null:
                self.defaults[f.attname] = None
            elif f.blank and isinstance(f, models.CharField | models.TextField):
                self.defaults[f.attname] = ""
        self.rows: list[dict] = []

    def add(self, values: dict) -> None:
        self.rows.append(values)

    def flush(self) -> None:
        if not self.rows:
            return
        columns = ", ".join(connection.ops.quote_name(f.column) for f in self.fields)
        table = connection.ops.quote_name(self.model._meta.db_table)
        names = [f.attname for f in self.fields]
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                defaults = self.defaults
                for row in self.rows:
                    copy.write_row([row[n] if n in row else defaults.get(n) for n in names])
        self.rows = []


def _reset_sequence(model: type[models.Model]) -> None:
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
        )


def _next_id(model: type[models.Model]) -> int:
    return (model.objects.aggregate(top=models.Max("id"))["top"] or 0) + 1


def generate_messages(
    world: BenchWorld, total: int, *, seed: int = 13, progress: Progress | None = None
) -> None:
    """Write `total` messages with their status events, oldest first (ids follow time)."""
    rng = random.Random(seed)
    weights = _partner_weights()
    account_weights = {
        p.pk: [1 / (n + 1) for n in range(len(world.accounts[p.pk]))] for p in world.partners
    }
    messages, events = _Writer(Message), _Writer(StatusEvent)
    message_id, event_id = _next_id(Message), _next_id(StatusEvent)

    def next_event_id() -> int:
        nonlocal event_id
        event_id += 1
        return event_id - 1

    month_counts = _month_counts(total, world.months, world.now)
    for period, count in zip(world.months, month_counts, strict=True):
        start, end = month_bounds_utc(period)
        end = min(end, world.now)
        span = (end - start).total_seconds()
        for n in range(count):
            created = start + dt.timedelta(seconds=span * (n + rng.random()) / count)
            partner = rng.choices(world.partners, weights)[0]
            account = rng.choices(world.accounts[partner.pk], account_weights[partner.pk])[0]
            values = _message_values(rng, message_id, created, world.now, partner, account)
            message_id += 1
            messages.add(values)
            for event in _events_for(values, next_event_id):
                events.add(event)
            if len(messages.rows) >= CHUNK:
                with transaction.atomic():
                    messages.flush()
                    events.flush()
                if progress:
                    progress(CHUNK)
    rest = len(messages.rows)
    with transaction.atomic():
        messages.flush()
        events.flush()
    if progress and rest:
        progress(rest)
    _reset_sequence(Message)
    _reset_sequence(StatusEvent)
    count_rollups(world)


def count_rollups(world: BenchWorld, progress: Progress | None = None) -> None:
    """The generators write past the product's writers (COPY, INSERT ... SELECT): the daily
    rollups of the bench partners are counted from the rows written, one partner at a time."""
    for partner in world.partners:
        rollups.rebuild(partner, progress=progress)


def analyze() -> None:
    """Fresh planner statistics and visibility map after the bulk load."""
    with connection.cursor() as cursor:
        for model in (Message, StatusEvent, DailyRollup):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


# --- statements -----------------------------------------------------------------------------------


def statement_jobs(world: BenchWorld) -> list[tuple[Partner, dt.date, bool]]:
    """(partner, month, close?): months before the last full one closed, the last two drafts.

    Months close oldest first, as in the product: a build reads only the partner's late-change
    queue, never its closed history, so the order no longer changes what loading costs.
    """
    jobs = []
    for partner in world.partners:
        for period in world.months[:-2]:
            jobs.append((partner, period, True))
        for period in world.months[-2:]:
            jobs.append((partner, period, False))
    return jobs


def _analyze_statements() -> None:
    """Planner statistics for the statement tables once they are filled."""
    with connection.cursor() as cursor:
        for model in (
            Statement,
            Statement.items.rel.related_model,
            Statement.lines.rel.related_model,
        ):
            cursor.execute(f"ANALYZE {model._meta.db_table}")


def build_statements(world: BenchWorld, progress: Progress | None = None) -> None:
    """Close every past month through the statement service; build the two drafts.

    A second call resumes: closed months are left as they are (close_statement does nothing).
    """
    for partner, period, close in statement_jobs(world):
        if close:
            close_statement(partner, period, actor="bench", now=world.now)
        else:
            build_statement(partner, period, actor="bench")
        if progress:
            progress(1)
    analyze()
    _analyze_statements()
