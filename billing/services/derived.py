"""Derived data of messages (daily rollups, the late-change queue, the draft refresh), kept here
only, in the writer's own transaction (docs/derived-data.md: the calls, the race with closing,
check and repair).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from billing.commission import billing_instant, billing_month, format_period, month_bounds_utc
from billing.models import LateChange, Message, Partner, Statement, StatementItem, StatementStatus
from billing.services import enqueue, rollups

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class State:
    """What derived data reads of one message, from its current attribute values."""

    rollup: rollups.Keyed
    partner_id: int
    billed_at: datetime  # commission.billing_instant: what billing_at is (or will be) stored as
    # What a closed statement billed and the late-change queue watches.
    watched: tuple[str, int, Decimal | None, datetime, str]
    # What a draft statement reads of the message: the watched facts, its type and account.
    drafted: tuple


def state(message: Message) -> State:
    billed_at = billing_instant(message.dispatched_at, message.created_at)
    cost = Decimal(message.cost) if message.cost is not None else None
    watched = (str(message.status), int(message.parts or 0), cost, billed_at, str(message.ic_proof))
    return State(
        rollup=rollups.keyed(message),
        partner_id=message.partner_id,
        billed_at=billed_at,
        watched=watched,
        drafted=(*watched, str(message.message_type), message.account_id),
    )


def snapshot(messages: Iterable[Message]) -> dict[int, State]:
    """The state of messages about to change, by primary key: take it after locking them."""
    return {message.pk: state(message) for message in messages}


def messages_changed(
    before: Mapping[int, State], messages: Iterable[Message], *, drafts: bool = True
) -> None:
    """Keep derived data after `messages` were written (`drafts=False`: a shortcut that builds its
    statements itself). A message missing from `before` is taken as new."""
    if not connection.in_atomic_block:
        raise RuntimeError(
            "derived data is kept in the writer's transaction: call inside transaction.atomic()"
        )
    changes = [(before.get(m.pk), state(m), m) for m in messages]
    rollups.record_changes((old and old.rollup, new.rollup) for old, new, _ in changes)
    _queue_late_changes(
        [(m.pk, new, old) for old, new, m in changes if old is None or old.watched != new.watched]
    )
    if drafts:
        refresh_drafts_on_commit(
            [new for old, new, _ in changes if old is None or old.drafted != new.drafted]
        )


def messages_created(messages: Iterable[Message], *, drafts: bool = True) -> None:
    """Keep derived data of newly written messages (saved, so with their ids)."""
    messages_changed({}, messages, drafts=drafts)


def _queue_late_changes(changed: list[tuple[int, State, State | None]]) -> None:
    """Queue each changed message for its old and new billing month if closed or being closed."""
    wanted: dict[tuple[int, int, date], None] = {}  # (partner, message, period), ordered
    for message_id, new, old in changed:
        for at in ((old or new).billed_at, new.billed_at):
            wanted[(new.partner_id, message_id, billing_month(at))] = None
    months = sorted({(partner_id, period) for partner_id, _, period in wanted})
    if not months:
        return
    partners, periods = map(list, zip(*months, strict=True))
    table = connection.ops.quote_name(Statement._meta.db_table)
    with connection.cursor() as cursor:
        # Taken, the shared lock stays until this transaction ends, so no closing of the month
        # can start before it commits. Refused: the month is being closed right now: queue.
        cursor.execute(
            "SELECT m.partner_id, m.period,"
            " pg_try_advisory_xact_lock_shared(billing_month_lock_key(m.partner_id, m.period))"
            " FROM unnest(%s::bigint[], %s::date[]) AS m(partner_id, period)",
            [partners, periods],
        )
        watched = {(p, d) for p, d, taken in cursor.fetchall() if not taken}
        # A new statement, so a new snapshot: a closing committed meanwhile is seen.
        cursor.execute(
            f"SELECT s.partner_id, s.period FROM {table} s"
            " JOIN unnest(%s::bigint[], %s::date[]) AS m(partner_id, period)"
            " ON s.partner_id = m.partner_id AND s.period = m.period"
            " WHERE s.status = %s",
            [partners, periods, StatementStatus.CLOSED.value],
        )
        watched |= set(cursor.fetchall())
    _insert_late_changes(sorted((m, d, p) for p, m, d in wanted if (p, d) in watched))


def _insert_late_changes(rows: list[tuple[int, date, int]]) -> None:
    """(message, period, partner) rows into the queue, once each (sorted: the unique index's
    order, so two writers lock its entries in the same order); created_at the database's now()."""
    if not rows:
        return
    table = connection.ops.quote_name(LateChange._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (partner_id, message_id, period, created_at)"
            " SELECT r.partner_id, r.message_id, r.period, now()"
            " FROM unnest(%s::bigint[], %s::bigint[], %s::date[])"
            " AS r(partner_id, message_id, period)"
            " ON CONFLICT (message_id, period) DO NOTHING",
            [[p for _, _, p in rows], [m for m, _, _ in rows], [d for _, d, _ in rows]],
        )


@dataclass(frozen=True)
class MissingLateChange:
    """A message of a closed month that differs from what it billed, not in the queue."""

    partner_id: int
    message_id: int
    period: date

    def __str__(self) -> str:
        return (
            f"partner {self.partner_id} message {self.message_id}: differs from what"
            f" {format_period(self.period)} billed, not in the late-change queue"
        )


def _queued(message_id: OuterRef, period: date) -> Exists:
    return Exists(LateChange.objects.filter(message_id=message_id, period=period))


def missing_late_changes(partner: Partner | None = None) -> list[MissingLateChange]:
    """Messages of closed months the queue should hold and does not: billed ones that changed, left
    the month or no longer count, and counted ones billed on no closed statement. Reads only."""
    closed = Statement.objects.filter(status=StatementStatus.CLOSED).order_by(
        "partner_id", "period"
    )
    if partner is not None:
        closed = closed.filter(partner=partner)
    found: list[MissingLateChange] = []
    for statement in closed.iterator():
        start, end = month_bounds_utc(statement.period)
        changed = (
            ~Q(message__status=F("status"))  # status, parts: not nullable; cost compared both ways
            | ~Q(message__parts=F("parts"))
            | Q(message__cost__isnull=True, cost__isnull=False)
            | Q(message__cost__isnull=False, cost__isnull=True)
            | Q(message__cost__lt=F("cost"))
            | Q(message__cost__gt=F("cost"))
            | Q(message__billing_at__lt=start)
            | Q(message__billing_at__gte=end)
            # No longer counted. Within the month only (one out of it is caught above): the
            # planner's hashed form of this subquery then reads one month, not every message.
            | ~Exists(
                Message.objects.billed_between(start, end)
                .counted()
                .filter(pk=OuterRef("message_id"))
            )
        )
        ids = set(
            StatementItem.objects.filter(statement=statement)
            .filter(changed)
            .exclude(_queued(OuterRef("message_id"), statement.period))
            .values_list("message_id", flat=True)
        )
        billed_on_closed = StatementItem.objects.filter(
            message_id=OuterRef("pk"),
            # Always the message's partner; said, so the anti-join reads one partner's items.
            statement__partner_id=statement.partner_id,
            statement__status=StatementStatus.CLOSED,
        )
        ids |= set(
            Message.objects.filter(partner_id=statement.partner_id)
            .billed_between(start, end)
            .counted()
            .exclude(Exists(billed_on_closed))
            .exclude(_queued(OuterRef("pk"), statement.period))
            .values_list("id", flat=True)
        )
        found += [
            MissingLateChange(statement.partner_id, pk, statement.period) for pk in sorted(ids)
        ]
    return found


def repair_late_changes(partner: Partner | None = None) -> int:
    """Queue what `missing_late_changes` finds; returns the number of rows added."""
    with transaction.atomic():
        missing = missing_late_changes(partner)
        _insert_late_changes(sorted((m.message_id, m.period, m.partner_id) for m in missing))
    return len(missing)


@dataclass(frozen=True)
class Check:
    """What `check` found."""

    rollups: list[rollups.Difference]
    late_changes: list[MissingLateChange]

    @property
    def clean(self) -> bool:
        return not self.rollups and not self.late_changes

    def counts(self) -> dict[str, int]:
        """The counts the daily task returns (ops stores them with its heartbeat and alerts)."""
        return {"rollup_rows": len(self.rollups), "missing_late_changes": len(self.late_changes)}


def check(partner: Partner | None = None, *, progress: rollups.Progress | None = None) -> Check:
    """Derived data a writer past this module left behind (rollups, late changes). Reads only."""
    return Check(rollups.differences(partner, progress=progress), missing_late_changes(partner))


def refresh_drafts_on_commit(states: Iterable[State]) -> None:
    """Have the drafts these messages touch rebuilt on commit: one task per partner (its months)."""
    periods: dict[int, set[str]] = defaultdict(set)
    for one in states:
        periods[one.partner_id].add(format_period(billing_month(one.billed_at)))
    if not periods:
        return
    requested_at = timezone.now().isoformat()
    batch = {partner_id: sorted(months) for partner_id, months in periods.items()}
    transaction.on_commit(lambda: enqueue_draft_refresh(batch, requested_at))


def enqueue_draft_refresh(periods: Mapping[int, list[str]], requested_at: str) -> None:
    """Queue each partner's draft refresh; a broker that is down is logged, never raised."""
    for partner_id, months in periods.items():
        try:
            enqueue.refresh_drafts(partner_id, months, requested_at)
        except Exception:  # noqa: BLE001
            logger.exception("could not queue the draft refresh of partner %s", partner_id)
