"""Counters shared by every gunicorn and Celery process on every host: rows in PostgreSQL.

Why the database rather than prometheus-client's multiprocess mode: SerwerSMS is called by Celery
workers, possibly on other hosts than the web process that is scraped; multiprocess files are
per host and vanish with a restart. One upsert per event (`INSERT ... ON CONFLICT DO UPDATE`) is
atomic across processes, survives restarts, and its per-minute rows give the alert rules their
rates over a window. What the database already knows (status events, audit entries) is not
counted twice: it is folded into counters at scrape time from a primary-key cursor (fold()).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from django.db import OperationalError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from ops.models import Counter, FoldCursor

logger = logging.getLogger(__name__)

SERWERSMS_ANSWERS = "serwersms_answers"  # labels: channel, error_class, outcome
API_REQUESTS = "api_requests"  # labels: key, status


_ALL_TIME = datetime(1970, 1, 1, tzinfo=UTC)  # the window of the all-time rows


def label_key(labels: dict[str, str]) -> str:
    """Labels as one canonical text: sorted `k=v` pairs joined by commas (values made safe)."""
    return ",".join(
        f"{k}={str(v).replace(',', '_').replace('=', '_')[:60]}" for k, v in sorted(labels.items())
    )


def parse_labels(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in text.split(",") if "=" in pair)


def _upsert(rows: list[tuple[str, str, datetime, int]]) -> None:
    values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
    sql = (
        f'INSERT INTO ops_counter (name, labels, "window", value) VALUES {values} '
        'ON CONFLICT (name, "window", labels) DO UPDATE'
        " SET value = ops_counter.value + EXCLUDED.value"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [v for row in rows for v in row])


def add(
    name: str,
    labels: dict[str, str],
    amount: int = 1,
    *,
    now: datetime | None = None,
    per_minute: bool = True,
) -> None:
    """Add `amount` to a counter's all-time row (and this minute's row) now: one statement.

    Never raises: a counter must not fail the call it counts. Runs in a savepoint when the
    caller is inside a transaction, so a failed upsert cannot break the caller's transaction."""
    key = label_key(labels)
    rows = [(name, key, _ALL_TIME, amount)]
    if per_minute:
        rows.append((name, key, (now or timezone.now()).replace(second=0, microsecond=0), amount))
    try:
        _upsert(rows)
    except Exception as exc:  # noqa: BLE001 - counting must never fail the counted call
        logger.warning("could not count %s {%s}: %s", name, key, exc)


# Counts made inside a process, written by flush(): at the end of each Celery task and web
# request, and at process exit (signals and atexit, apps.py). The hot path (a SerwerSMS call in
# a poll pass) costs no query; a killed process loses its unflushed counts (one task's worth),
# never counts twice.
_buffer: dict[tuple[str, str, datetime], int] = {}
_buffer_lock = threading.Lock()


def count(name: str, labels: dict[str, str], amount: int = 1) -> None:
    """Add to a counter in this process's buffer (per minute and all time); see flush()."""
    key = (name, label_key(labels), timezone.now().replace(second=0, microsecond=0))
    with _buffer_lock:
        _buffer[key] = _buffer.get(key, 0) + amount


def flush(*, quiet: bool = False, **_signal_kwargs) -> None:
    """Write this process's buffered counts in one statement; never raises (counts that
    cannot be written are logged and dropped, so a process without a database cannot grow)."""
    with _buffer_lock:
        pending = dict(_buffer)
        _buffer.clear()
    if not pending:
        return
    totals_: dict[tuple[str, str], int] = {}
    rows: list[tuple] = []
    for (name, key, minute), amount in pending.items():
        totals_[(name, key)] = totals_.get((name, key), 0) + amount
        rows.append((name, key, minute, amount))
    rows += [(name, key, _ALL_TIME, amount) for (name, key), amount in totals_.items()]
    try:
        _upsert(rows)
    except Exception as exc:  # noqa: BLE001 - counting must never fail the counted work
        if not quiet:  # at exit (logging may be gone): dropped silently
            logger.warning("could not write %d buffered counts: %s", len(pending), exc)


def totals(name: str) -> dict[str, int]:
    """The all-time value of each labelling of counter `name` (labels text -> value)."""
    return dict(Counter.objects.filter(name=name, window=_ALL_TIME).values_list("labels", "value"))


def since(name: str, start: datetime) -> dict[str, int]:
    """The sum of the per-minute rows of `name` from `start` on, by labels text."""
    rows = Counter.objects.filter(name=name, window__gte=start).exclude(window=_ALL_TIME)
    return dict(rows.values_list("labels").annotate(total=Sum("value")))


def prune(*, now: datetime, keep: timedelta = timedelta(days=1)) -> int:
    """Delete per-minute rows older than `keep` (the all-time rows stay). Returns how many."""
    deleted, _ = Counter.objects.filter(window__lt=now - keep).exclude(window=_ALL_TIME).delete()
    return deleted


# --- SerwerSMS answers --------------------------------------------------------------------


def count_serwersms_answer(
    sender: object = None, *, channel: str, error: BaseException | None, **kwargs
) -> None:
    """Count one SerwerSMS answer by channel, error class and outcome (serwersms.errors), ok or
    not: a receiver of billing.serwersms.hooks.answer_received, connected in apps.py."""
    error_class, outcome = "ok", "ok"
    if error is not None:
        error_class = str(getattr(type(error), "default_code", "") or type(error).__name__)
        outcome = str(getattr(error, "outcome", "") or "unexpected")
    count(SERWERSMS_ANSWERS, {"channel": channel, "error_class": error_class, "outcome": outcome})


# --- Folding what the database already records ----------------------------------------------


def _snapshot_bounds(cursor) -> tuple[int, int]:
    """(xmin, xmax) of the current snapshot: every transaction below xmin has finished; every
    one at or above xmax started after this snapshot (PostgreSQL's pg_current_snapshot)."""
    cursor.execute(
        "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint,"
        " pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
    )
    xmin, xmax = cursor.fetchone()
    return int(xmin), int(xmax)


FOLD_MAX_KEYS = 200_000


def fold(
    table: str,
    rows_between: Callable[[int, int], Iterable[tuple[str, dict[str, str], int]]],
) -> bool:
    """Fold rows of `table` added since the last fold into counters, exactly once (its cursor
    is named after the table).

    Primary keys are not committed in order: a transaction can commit id 100 after id 101 is
    visible. So a fold only counts the range it *saw* at the previous fold, once every
    transaction that was running then has finished (snapshot xmin past the xmax noted then):
    no row of that range can appear later. Counters lag one fold (one scrape) behind.
    `rows_between(low, high)` yields (counter name, labels, amount) for primary keys in
    (low, high]. The cursor row is locked NOWAIT: a concurrent fold skips (returns False)."""
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                # Before this transaction writes anything (it has no xid of its own yet).
                xmin, xmax = _snapshot_bounds(cursor)
                cursor.execute(f"SELECT max(id) FROM {connection.ops.quote_name(table)}")
                visible_max = cursor.fetchone()[0] or 0
            # A new cursor starts at the table's beginning: the counters hold the whole history
            # the database kept (what a fault run or a first deploy did is shown), caught up
            # FOLD_MAX_KEYS a fold, so a first scrape on a big database never costs one huge query.
            FoldCursor.objects.get_or_create(
                name=table,
                defaults={"position": 0, "pending_position": visible_max, "pending_xmax": xmax},
            )
            state = FoldCursor.objects.select_for_update(nowait=True).get(name=table)
            if state.pending_position > state.position and xmin >= state.pending_xmax:
                # At most FOLD_MAX_KEYS a fold: a long gap between scrapes is caught up in steps.
                high = min(state.pending_position, state.position + FOLD_MAX_KEYS)
                for name, labels, amount in rows_between(state.position, high):
                    add(name, labels, amount, per_minute=False)
                state.position = high
            if xmin >= state.pending_xmax or state.pending_position <= state.position:
                state.pending_position = max(visible_max, state.position)
                state.pending_xmax = xmax
            state.save(update_fields=["position", "pending_position", "pending_xmax"])
        return True
    except OperationalError as exc:  # NOWAIT: the lock is held by another fold
        logger.info("fold %s skipped: %s", table, exc)
        return False
