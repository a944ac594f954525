"""Rows per second of the messages exports over the big bench partner's whole history (more rows
than the bench's one-month export, so the fixed cost of a request does not hide the rate).

    DATABASE_URL=... python manage.py shell -c \
        "from devtools.bench.export_rates import main; main()"

Best of 3 each: the CSV through COPY (PostgreSQL), the CSV through Python rows, a raw `COPY
TO STDOUT` of the same columns without words or formatting, and the XLSX (openpyxl write-only
workbook) with its rows written by PostgreSQL and from Python rows; then the peak of Python's
allocations during the COPY export. Figures in docs/scale.md.
"""

from __future__ import annotations

import io
import time
import tracemalloc

from django.db import connection
from django.utils import translation

from billing.models import Message
from devtools.bench import data

RAW_COPY = (
    "COPY (SELECT created_at, account_id, phone, sender, message_type, channel, parts, status,"
    " dispatched_at, delivered_at, serwersms_id, unique_id, reason, error_message"
    " FROM billing_message WHERE partner_id = %s ORDER BY created_at DESC, id DESC)"
    " TO STDOUT WITH (FORMAT csv)"
)


def main(language: str = "pl") -> None:
    from partner_portal import exports

    big = max(data.bench_partners(), key=lambda p: p.messages.count())
    queryset = (
        Message.objects.filter(partner=big).select_related("account").order_by("-created_at", "-id")
    )
    rows = queryset.count()

    def run(label, produce) -> None:
        best = size = None
        for _ in range(3):
            started = time.perf_counter()
            size = produce()
            seconds = time.perf_counter() - started
            best = seconds if best is None else min(best, seconds)
        print(
            f"{label:40} {rows:>9,} rows {best:8.3f} s {rows / best:>10,.0f} rows/s"
            f" {size / 1e6:7.1f} MB"
        )

    def raw_copy() -> int:
        total = 0
        with connection.cursor() as cursor, cursor.cursor.copy(RAW_COPY, [big.pk]) as copy:
            for chunk in copy:
                total += len(chunk)
        return total

    def xlsx() -> int:
        target = io.BytesIO()
        exports.write_messages_xlsx(queryset, target)
        return target.tell()

    with translation.override(language):
        run("CSV, COPY path", lambda: sum(len(c) for c in exports.copy_csv_chunks(queryset)))
        run("raw COPY TO STDOUT (no words, no format)", raw_copy)
        run("XLSX, rows written by PostgreSQL", xlsx)
        tracemalloc.start()
        sum(len(c) for c in exports.copy_csv_chunks(queryset))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"peak Python allocations during the COPY export: {peak / 2**20:.1f} MiB")
