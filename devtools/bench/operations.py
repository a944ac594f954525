"""The operations `manage.py bench` measures, each through the product's real entry point (portal
views through Django's test client as the big partner's billing manager, the statement service,
the poll pass) beside a raw-SQL baseline of the same work, in the same run.
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from billing.commission import (
    BILLING_ZONE,
    billing_day,
    local_midnight_utc,
    month_bounds_utc,
    next_month,
)
from billing.models import ClientAccount, Message, Statement, StatementItem, StatusEvent
from billing.services import rollups
from billing.services.status_updates import UPDATED_FIELDS
from billing.serwersms.types import ReportItem
from billing.statuses import COUNTED, NEVER_COUNTED, NOT_FINAL, PENDING, values
from devtools.bench.data import BenchWorld
from partner_portal.message_columns import export_fields

REPEATS = 3
COUNTED_SQL = values(COUNTED)
PENDING_SQL = values(PENDING)
NEVER_COUNTED_SQL = values(NEVER_COUNTED)
Work = Callable[[], int | None]  # returns the rows it handled, when that means something


@dataclass
class Operation:
    key: str
    label: str
    product: Work
    raw: Work | None = None
    raw_label: str = ""
    memory: bool = False  # measure peak memory (exports)
    reset: Callable[[], None] | None = None  # before each product run (poll apply)
    rows: int | None = None  # rows the operation handles (exports, builds, poll apply)


@dataclass
class Result:
    key: str
    label: str
    seconds: float
    runs: list[float]
    queries: int
    db_seconds: float | None = None  # the product's time inside the database (first run)
    raw_seconds: float | None = None
    raw_runs: list[float] = field(default_factory=list)
    raw_label: str = ""
    rows: int | None = None
    peak_python_bytes: int | None = None
    peak_rss_bytes: int | None = None
    raw_peak_python_bytes: int | None = None

    @property
    def ratio(self) -> float | None:
        """Product time over raw time (1.0: as fast as the raw SQL)."""
        if self.raw_seconds:
            return self.seconds / self.raw_seconds
        return None

    def as_dict(self) -> dict:
        data = {
            "key": self.key,
            "label": self.label,
            "seconds": round(self.seconds, 6),
            "runs": [round(r, 6) for r in self.runs],
            "queries": self.queries,
            "db_seconds": None if self.db_seconds is None else round(self.db_seconds, 6),
            "raw_label": self.raw_label,
            "raw_seconds": None if self.raw_seconds is None else round(self.raw_seconds, 6),
            "raw_runs": [round(r, 6) for r in self.raw_runs],
            "ratio_to_raw": None if self.ratio is None else round(self.ratio, 2),
            "rows": self.rows,
        }
        if self.rows:
            data["rows_per_second"] = round(self.rows / self.seconds)
            if self.raw_seconds:
                data["raw_rows_per_second"] = round(self.rows / self.raw_seconds)
                data["rate_ratio_to_raw"] = round(self.raw_seconds / self.seconds, 3)
        if self.peak_python_bytes is not None:
            data["peak_python_bytes"] = self.peak_python_bytes
            data["peak_rss_bytes"] = self.peak_rss_bytes
            data["raw_peak_python_bytes"] = self.raw_peak_python_bytes
        return data


# --- measuring -----------------------------------------------------------------------------------


def _rss_status(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux)
        return True
    except OSError:
        return False


def _timed(work: Work, reset: Callable[[], None] | None) -> tuple[float, int | None]:
    if reset:
        reset()
    started = time.perf_counter()
    rows = work()
    return time.perf_counter() - started, rows


def _python_peak(work: Work, reset: Callable[[], None] | None) -> int:
    if reset:
        reset()
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure(operation: Operation, repeats: int = REPEATS) -> Result:
    """Median of `repeats` runs of the product and of the raw baseline; peak memory once."""
    runs, queries, db_seconds, rss_peak = [], 0, None, None
    for n in range(repeats):
        rss_before = _rss_status("VmRSS") if operation.memory and _reset_peak_rss() else None
        if operation.reset:
            operation.reset()  # outside the capture: its queries are not the operation's
        with CaptureQueriesContext(connection) as captured:
            seconds, rows = _timed(operation.product, None)
        runs.append(seconds)
        if n == 0:
            queries = len(captured.captured_queries)
            db_seconds = sum(float(q["time"]) for q in captured.captured_queries)
            operation.rows = operation.rows if operation.rows is not None else rows
        if rss_before is not None:
            peak = (_rss_status("VmHWM") or 0) - rss_before
            rss_peak = max(rss_peak or 0, peak)
    raw_runs = []
    if operation.raw is not None:
        for _ in range(repeats):
            raw_runs.append(_timed(operation.raw, operation.reset)[0])
    result = Result(
        key=operation.key,
        label=operation.label,
        seconds=statistics.median(runs),
        runs=runs,
        queries=queries,
        db_seconds=db_seconds,
        raw_seconds=statistics.median(raw_runs) if raw_runs else None,
        raw_runs=raw_runs,
        raw_label=operation.raw_label,
        rows=operation.rows,
    )
    if operation.memory:
        result.peak_python_bytes = _python_peak(operation.product, operation.reset)
        result.peak_rss_bytes = rss_peak
        if operation.raw is not None:
            result.raw_peak_python_bytes = _python_peak(operation.raw, operation.reset)
    if operation.reset:
        # Leave the data as found: a later `--reuse` run measures the same work again.
        operation.reset()
    return result


# --- the portal, as the big partner's billing manager -------------------------------------------


class Portal:
    """Django's test client logged in as the bench manager; every page must answer 200."""

    def __init__(self, world: BenchWorld):
        self.client = Client(headers={"accept-language": "en"})
        self.client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")

    def get(self, path: str, params: dict | None = None) -> None:
        """Fetch a page or download to its last byte (a streamed body is read, not kept)."""
        url = path + ("?" + urlencode(params) if params else "")
        response = self.client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
        if response.streaming:
            for _chunk in response.streaming_content:
                pass
        else:
            assert response.content
        response.close()


def portal_settings():
    """What the test client needs whatever the deployment's settings; no portal time limit, so
    a slow page is measured rather than stopped."""
    return override_settings(
        ALLOWED_HOSTS=["testserver"],
        SECURE_SSL_REDIRECT=False,
        PORTAL_STATEMENT_TIMEOUT_MS=0,
        DEBUG=False,
        # Exports are measured as the streamed download (the code a background job runs too),
        # whatever their size: a bigger one would answer with a redirect to a job's page.
        EXPORT_BACKGROUND_ROWS=10**12,
        EXPORT_BACKGROUND_ROWS_CSV=10**12,
    )


# --- raw SQL -------------------------------------------------------------------------------------


def _fetch(sql: str, params: Sequence) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return len(cursor.fetchall())


def _in(values: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _warsaw_day(column: str) -> str:
    return f"date({column} AT TIME ZONE '{BILLING_ZONE.key}')"


M = Message._meta.db_table
A = ClientAccount._meta.db_table
S = Statement._meta.db_table
I = StatementItem._meta.db_table  # noqa: E741
E = StatusEvent._meta.db_table
# The fields the messages export reads (partner_portal.message_columns), raw: `a` the account.
MESSAGE_COLUMNS = ", ".join(
    f"a.{name.split('__')[1]}" if "__" in name else f"m.{name}" for name in export_fields()
)


def raw_dashboard(world: BenchWorld) -> int:
    """The dashboard's GROUP BYs on the base tables: two months by status, 90 days counted and
    commission per day, this month per account."""
    partner = world.big.pk
    this_start, end = month_bounds_utc(world.current_month)
    last_start = local_midnight_utc(world.last_full_month)
    today = billing_day(world.now)
    first_day = local_midnight_utc(today.replace(day=1)) - dt.timedelta(days=90)
    n = _fetch(
        f"SELECT dispatched_at >= %s, status, COUNT(*), SUM(parts) FROM {M} "
        f"WHERE partner_id = %s AND dispatched_at >= %s AND dispatched_at < %s GROUP BY 1, 2",
        [this_start, partner, last_start, end],
    )
    n += _fetch(
        f"SELECT {_warsaw_day('dispatched_at')}, COUNT(*) FROM {M} WHERE partner_id = %s "
        f"AND status IN {_in(COUNTED_SQL)} AND dispatched_at >= %s AND dispatched_at < %s "
        f"GROUP BY 1",
        [partner, first_day, end],
    )
    n += _fetch(
        f"SELECT {_warsaw_day('m.dispatched_at')}, SUM(i.amount) FROM {I} i "
        f"JOIN {S} s ON s.id = i.statement_id JOIN {M} m ON m.id = i.message_id "
        f"WHERE s.partner_id = %s AND m.dispatched_at >= %s AND m.dispatched_at < %s GROUP BY 1",
        [partner, first_day, end],
    )
    n += raw_accounts(world)
    return n


def raw_accounts(world: BenchWorld) -> int:
    start, end = month_bounds_utc(world.current_month)
    return _fetch(
        f"SELECT account_id, status, COUNT(*), SUM(parts) FROM {M} WHERE partner_id = %s "
        f"AND dispatched_at >= %s AND dispatched_at < %s GROUP BY 1, 2",
        [world.big.pk, start, end],
    )


def raw_messages_page(partner_id: int, where: str, params: list, per_page: int = 50) -> int:
    return _fetch(
        f"SELECT m.*, a.name FROM {M} m JOIN {A} a ON a.id = m.account_id "
        f"WHERE m.partner_id = %s {where} ORDER BY m.created_at DESC, m.id DESC LIMIT %s",
        [partner_id, *params, per_page + 1],
    )


def raw_statement_detail(statement: Statement) -> int:
    n = _fetch(
        f"SELECT l.*, a.name FROM billing_statementline l JOIN {A} a ON a.id = l.account_id "
        f"WHERE l.statement_id = %s ORDER BY a.name, l.message_type",
        [statement.pk],
    )
    n += _fetch("SELECT * FROM billing_adjustment WHERE statement_id = %s", [statement.pk])
    n += _fetch("SELECT * FROM billing_auditentry WHERE statement_id = %s", [statement.pk])
    return n


def _export_where() -> str:
    return "m.partner_id = %s AND m.created_at >= %s AND m.created_at < %s"


def raw_csv(partner_id: int, start: dt.datetime, end: dt.datetime) -> int:
    """PostgreSQL's own `COPY (SELECT ...) TO STDOUT` of the export's columns."""
    query = (
        f"SELECT {MESSAGE_COLUMNS} FROM {M} m JOIN {A} a ON a.id = m.account_id "
        f"WHERE {_export_where()} ORDER BY m.created_at DESC, m.id DESC"
    )
    size = 0
    with connection.cursor() as cursor:
        with cursor.cursor.copy(
            f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", [partner_id, start, end]
        ) as copy:
            for data in copy:
                size += len(data)
    return size


def raw_xlsx(partner_id: int, start: dt.datetime, end: dt.datetime) -> int:
    """The same rows fetched in chunks into an openpyxl write-only workbook on disk."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Messages")
    query = (
        f"SELECT {MESSAGE_COLUMNS} FROM {M} m JOIN {A} a ON a.id = m.account_id "
        f"WHERE {_export_where()} ORDER BY m.created_at DESC, m.id DESC"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [partner_id, start, end])
        while rows := cursor.fetchmany(2000):
            for row in rows:
                sheet.append(
                    [v.replace(tzinfo=None) if isinstance(v, dt.datetime) else v for v in row]
                )
    with tempfile.TemporaryFile() as handle:
        workbook.save(handle)
        return handle.tell()


def raw_statement_build(world: BenchWorld, period: dt.date) -> int:
    start, end = month_bounds_utc(period)
    return _fetch(
        f"SELECT account_id, message_type, "
        f"COUNT(*) FILTER (WHERE status IN {_in(COUNTED_SQL)}), "
        f"SUM(parts) FILTER (WHERE status IN {_in(COUNTED_SQL)}), "
        f"COUNT(*) FILTER (WHERE status IN {_in(PENDING_SQL)}), "
        f"COUNT(*) FILTER (WHERE status IN {_in(NEVER_COUNTED_SQL)}) FROM {M} "
        f"WHERE partner_id = %s AND dispatched_at >= %s AND dispatched_at < %s GROUP BY 1, 2",
        [world.big.pk, start, end],
    )


# --- the poll pass --------------------------------------------------------------------------------

# What a poll pass may change (the status path's own list), saved and put back after each run.
POLL_COLUMNS = ("id", *UPDATED_FIELDS)


class ScriptedReports:
    """A ReportsSource answering from a prepared dict: SerwerSMS says every message asked for
    is delivered now. No HTTP, so the figure is the product's applying of reports."""

    def __init__(self, reports: dict[str, ReportItem]):
        self.reports = reports

    def reports_by_ids(self, ids):
        return [self.reports[i] for i in ids if i in self.reports]

    xml_check = reports_by_ids

    def reports_by_unique_ids(self, unique_ids):
        return []

    def reports_by_phones(self, phones, date_from, date_to):
        return []


class PollFixture:
    """The big partner's pollable messages, the reports for them, and a way back to before."""

    def __init__(self, world: BenchWorld):
        from datetime import timedelta

        from django.conf import settings

        self.world = world
        self.accounts = world.accounts[world.big.pk]
        cutoff = world.now - timedelta(days=settings.STATUS_POLL_MAX_AGE_DAYS)
        pollable = Message.objects.filter(
            account__in=self.accounts,
            status__in=values(NOT_FINAL),
            created_at__gte=cutoff,
        )
        self.saved = list(pollable.values_list(*POLL_COLUMNS))
        self.days = (billing_day(cutoff) - timedelta(days=1), billing_day(world.now))
        self.event_floor = StatusEvent.objects.order_by("-id").values_list("id", flat=True)[:1]
        self.event_floor = self.event_floor[0] if self.event_floor else 0
        at = world.now - timedelta(seconds=30)
        self.reports = {
            row[11]: ReportItem(
                serwersms_id=row[11],
                phone="",
                status="delivered",
                queued_at=row[6],
                sent_at=row[7] or at,
                delivered_at=at,
                parts=row[4],
                cost=row[5],
            )
            for row in self.saved
        }

    @property
    def rows(self) -> int:
        return len(self.saved)

    def restore(self) -> None:
        """Put the messages back as they were and drop the events a run added."""
        pks = [row[0] for row in self.saved]
        with transaction.atomic():
            StatusEvent.objects.filter(id__gt=self.event_floor, message_id__in=pks).delete()
            objects = [Message(**dict(zip(POLL_COLUMNS, row, strict=True))) for row in self.saved]
            Message.objects.bulk_update(objects, POLL_COLUMNS[1:], batch_size=1000)
            # The product run moved these messages' rollups, the raw run did not: recount the
            # days they can be billed on (created within the poll age, reported sent by now).
            rollups.rebuild(self.world.big, days=self.days)

    def product(self) -> int:
        from billing.services import polling

        source = ScriptedReports(self.reports)
        summary = polling.poll_all_accounts(
            now=self.world.now,
            accounts=ClientAccount.objects.filter(pk__in=[a.pk for a in self.accounts]),
            source_factory=lambda account: source,
        )
        if summary.errors:
            raise RuntimeError(f"poll apply failed: {summary.error_messages[:3]}")
        return summary.changed

    def raw(self) -> int:
        """`UPDATE ... FROM (VALUES ...)` of the same rows to the same new status."""
        table = connection.ops.quote_name(M)
        cast = "::timestamptz"
        rows = [(row[0], "delivered", row[7], self.world.now) for row in self.saved]
        with transaction.atomic(), connection.cursor() as cursor:
            for start in range(0, len(rows), 1000):
                chunk = rows[start : start + 1000]
                values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
                cursor.execute(
                    f"WITH v(id, status, sent_at, delivered_at) AS (VALUES {values}) "
                    f"UPDATE {table} SET status = v.status, sent_at = v.sent_at{cast}, "
                    f"delivered_at = v.delivered_at{cast}, last_checked_at = v.delivered_at{cast} "
                    f"FROM v WHERE {table}.id = v.id::bigint",
                    [value for row in chunk for value in row],
                )
        return len(rows)


# --- the table of operations ---------------------------------------------------------------------


def _deep_cursor(world: BenchWorld, rows_deep: int) -> tuple[dt.datetime, int] | None:
    row = (
        Message.objects.filter(partner=world.big)
        .order_by("-created_at", "-id")
        .values_list("created_at", "pk")[rows_deep : rows_deep + 1]
    )
    found = list(row)
    return found[0] if found else None


@dataclass
class ExportRange:
    """The newest days of the big partner's history holding about `wanted` messages."""

    params: dict[str, str]  # the download's query string (date_from, date_to)
    start: dt.datetime
    end: dt.datetime
    rows: int


def export_range(world: BenchWorld, wanted: int) -> ExportRange:
    """From the Warsaw day of the big partner's `wanted`-th newest message (or its oldest) to
    today: at least `wanted` rows, whole days, as the portal's date filter takes them."""
    from billing.selectors import messages_for

    newest_first = Message.objects.filter(partner=world.big).order_by("-created_at", "-id")
    total = newest_first.count()
    index = max(min(wanted, total) - 1, 0)
    oldest = newest_first.values_list("created_at", flat=True)[index]
    first_day = billing_day(oldest)
    last_day = billing_day(world.now)
    filters = {"date_from": first_day, "date_to": last_day}
    return ExportRange(
        params={key: value.isoformat() for key, value in filters.items()},
        start=local_midnight_utc(first_day).astimezone(dt.UTC),
        end=local_midnight_utc(last_day + dt.timedelta(days=1)).astimezone(dt.UTC),
        rows=messages_for(world.big, filters).count(),
    )


def _export_label(wanted: str, found: ExportRange) -> str:
    return (
        f"CSV export of ~{wanted} rows ({found.rows:,}: {found.params['date_from']} "
        f"to {found.params['date_to']})"
    )


def operations(world: BenchWorld, portal: Portal) -> list[Operation]:
    """Every operation of the issue's table, in the order it is printed."""
    from billing.services.statements import build_statement
    from partner_portal.pagination import Cursor

    big = world.big.pk
    month = world.last_full_month
    start, end = month_bounds_utc(month)
    month_params = {
        "date_from": month.isoformat(),
        "date_to": (next_month(month) - dt.timedelta(days=1)).isoformat(),
    }
    export_rows = Message.objects.filter(
        partner=world.big, created_at__gte=start, created_at__lt=end
    ).count()
    accounts = world.accounts[big]
    filter_account = accounts[1] if len(accounts) > 1 else accounts[0]
    # Page 1000 of 50 rows, or as deep as a small run goes.
    deep_row = max(min(49_950, world.big.messages.count() - 60), 0)
    deep = _deep_cursor(world, deep_row)
    deep_cursor = Cursor("-created_at", deep[0], deep[1]).encode()
    closed = (
        Statement.objects.filter(partner=world.big, status="closed").order_by("-period").first()
    )
    poll = PollFixture(world)

    ops = [
        Operation(
            "dashboard",
            "dashboard",
            lambda: portal.get("/"),
            lambda: raw_dashboard(world),
            "the same GROUP BYs on the base tables",
        ),
        Operation(
            "messages_first",
            "messages page 1",
            lambda: portal.get("/messages/"),
            lambda: raw_messages_page(big, "", []),
            "the LIMIT page",
        ),
        Operation(
            "messages_deep",
            f"messages, {deep_row // 50 + 1} pages deep (row {deep_row:,})",
            lambda: portal.get("/messages/", {"after": deep_cursor}),
            lambda: raw_messages_page(
                big,
                "AND m.created_at <= %s AND (m.created_at < %s OR m.id < %s)",
                [deep[0], deep[0], deep[1]],
            ),
            "the keyset LIMIT page",
        ),
        Operation(
            "messages_filtered",
            "messages filtered (account + status=undelivered)",
            lambda: portal.get(
                "/messages/", {"account": filter_account.pk, "status": "undelivered"}
            ),
            lambda: raw_messages_page(
                big,
                "AND m.account_id = %s AND m.status = %s",
                [filter_account.pk, "undelivered"],
            ),
            "the filtered LIMIT page",
        ),
        Operation(
            "client_accounts",
            "client accounts",
            lambda: portal.get("/client-accounts/"),
            lambda: raw_accounts(world),
            "GROUP BY account",
        ),
    ]
    if closed is not None:
        ops.append(
            Operation(
                "statement_detail",
                f"statement detail ({closed.period:%Y-%m}, closed)",
                lambda: portal.get(f"/statements/{closed.pk}/"),
                lambda: raw_statement_detail(closed),
                "lines, adjustments, audit",
            )
        )
    small_export = export_range(world, 10_000)
    big_export = export_range(world, 1_000_000)
    ops += [
        Operation(
            "csv_export",
            f"CSV export of {month:%Y-%m} ({export_rows:,} rows)",
            lambda: portal.get("/messages/export.csv", month_params),
            lambda: raw_csv(big, start, end),
            "COPY TO STDOUT",
            memory=True,
            rows=export_rows,
        ),
        # Memory of the streamed CSV at two sizes: constant memory means the same peak.
        Operation(
            "csv_export_10k",
            _export_label("10k", small_export),
            lambda: portal.get("/messages/export.csv", small_export.params),
            lambda: raw_csv(big, small_export.start, small_export.end),
            "COPY TO STDOUT",
            memory=True,
            rows=small_export.rows,
        ),
        Operation(
            "csv_export_1m",
            _export_label("1M", big_export),
            lambda: portal.get("/messages/export.csv", big_export.params),
            lambda: raw_csv(big, big_export.start, big_export.end),
            "COPY TO STDOUT",
            memory=True,
            rows=big_export.rows,
        ),
        Operation(
            "xlsx_export",
            f"XLSX export of {month:%Y-%m} ({export_rows:,} rows)",
            lambda: portal.get("/messages/export.xlsx", month_params),
            lambda: raw_xlsx(big, start, end),
            "cursor + openpyxl write-only",
            memory=True,
            rows=export_rows,
        ),
        Operation(
            "statement_build",
            f"statement build ({month:%Y-%m}, draft)",
            lambda: build_statement(world.big, month, actor="bench").statement.counted_messages,
            lambda: raw_statement_build(world, month),
            "one GROUP BY",
        ),
        Operation(
            "poll_apply",
            f"poll apply ({poll.rows:,} reports)",
            poll.product,
            poll.raw,
            "UPDATE ... FROM (VALUES ...)",
            reset=poll.restore,
            rows=poll.rows,
        ),
    ]
    return ops


# --- the messages table's plans (docs/scale.md) ---------------------------------------------------


def message_page_cases(world: BenchWorld) -> list[tuple[str, dict, bool]]:
    """(label, filters, deep?) for every filter of the messages table."""
    month = world.last_full_month
    accounts = world.accounts[world.big.pk]
    return [
        ("no filter, page 1", {}, False),
        ("no filter, row 49,950 (keyset)", {}, True),
        (
            "date range (one month)",
            {
                "date_from": month,
                "date_to": next_month(month) - dt.timedelta(days=1),
            },
            False,
        ),
        ("status=undelivered", {"status": "undelivered"}, False),
        ("status=undelivered, deep", {"status": "undelivered"}, True),
        ("status=counted", {"status": "counted"}, False),
        ("status=pending", {"status": "pending"}, False),
        ("account", {"account": accounts[-1]}, False),
        ("account, deep", {"account": accounts[-1]}, True),
        ("account + status=undelivered", {"account": accounts[1], "status": "undelivered"}, False),
        ("message_type=voice", {"message_type": "voice"}, False),
        ("channel=email2sms", {"channel": "email2sms"}, False),
        ("phone digits (4)", {"phone": "6007"}, False),
        ("phone, full number", {"phone": "+48 600 700 800"}, False),
    ]


def explain_message_pages(world: BenchWorld) -> list[tuple[str, str, float]]:
    """EXPLAIN ANALYZE of the page query the messages view runs, for each filter."""
    from billing.selectors import messages_for
    from partner_portal.pagination import DEFAULT_PER_PAGE, keyset_page

    results = []
    for label, filters, deep in message_page_cases(world):
        queryset = messages_for(world.big, filters)
        after = None
        if deep:
            row = list(
                queryset.order_by("-created_at", "-id").values_list("created_at", "pk")[
                    49_950:49_951
                ]
            )
            if row:
                from partner_portal.pagination import Cursor

                after = Cursor("-created_at", row[0][0], row[0][1]).encode()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            keyset_page(queryset, after=after, per_page=DEFAULT_PER_PAGE)
            seconds = time.perf_counter() - started
        sql = captured.captured_queries[-1]["sql"]
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        results.append((label, plan, seconds))
    return results
