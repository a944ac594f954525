"""Issue 13's targets checked on two `manage.py bench` runs, a small one (100k) and a large one
(10M): `manage.py bench_compare small.json large.json`. Pure: reads the runs' JSON, no database.

Each target is judged on the large run, as the issue states them; the small run's figure is
shown beside it, and every operation's growth (large time / small time).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

PAGES = (
    "dashboard",
    "messages_first",
    "messages_deep",
    "messages_filtered",
    "client_accounts",
    "statement_detail",
)
PAGE_SECONDS = 0.3  # every page under this at the large size
PAGE_GROWTH = 1.5  # ... and within this factor of its time at the small size
CSV_RATE_RATIO = 0.25  # CSV rows/s at least this share of COPY TO STDOUT's
CSV_MEMORY_GROWTH = 1.2  # peak memory exporting ~1M rows within this factor of ~10k rows
XLSX_ROWS_PER_SECOND = 20_000
BUILD_RATIO = 2.0  # a month's statement build within this factor of the raw GROUP BY
POLL_RATE_RATIO = 0.3  # poll apply at least this share of the raw UPDATE's rate
MIB = 2**20


@dataclass
class Target:
    target: str  # what the issue asks, in words
    operation: str  # the bench key the figure comes from
    limit: float
    small: float | None  # the figure at the small size (shown, not judged)
    large: float | None  # the figure at the large size (judged)
    met: bool | None  # None: not measured
    note: str = ""


def _operations(report: dict) -> dict[str, dict]:
    return {op["key"]: op for op in report.get("operations", [])}


def _get(ops: dict[str, dict], key: str, field: str) -> float | None:
    value = ops.get(key, {}).get(field)
    return None if value is None else float(value)


def _at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def _at_least(value: float | None, limit: float) -> bool | None:
    return None if value is None else value >= limit


def _growth(small: float | None, large: float | None) -> float | None:
    if small is None or large is None or small <= 0:
        return None
    return large / small


def memory_growth(report: dict) -> dict[str, float | None]:
    """Peak memory of the ~1M-row CSV export over the ~10k-row one in one run: Python's
    allocations (tracemalloc) and the process's resident-set growth."""
    ops = _operations(report)
    return {
        "python": _growth(
            _get(ops, "csv_export_10k", "peak_python_bytes"),
            _get(ops, "csv_export_1m", "peak_python_bytes"),
        ),
        # RSS growth below a MiB is noise (the allocator keeps freed pages): counted as 1 MiB.
        "rss": _growth(
            max(_get(ops, "csv_export_10k", "peak_rss_bytes") or 0, MIB)
            if "csv_export_10k" in ops
            else None,
            max(_get(ops, "csv_export_1m", "peak_rss_bytes") or 0, MIB)
            if "csv_export_1m" in ops
            else None,
        ),
    }


def run_figures(report: dict) -> dict:
    """The figures of the issue's target list in one run (written into the bench's JSON)."""
    ops = _operations(report)
    pages = {
        key: {"seconds": _get(ops, key, "seconds"), "queries": ops[key]["queries"]}
        for key in PAGES
        if key in ops
    }
    exports = {
        key: {
            "rows": ops[key].get("rows"),
            "rows_per_second": ops[key].get("rows_per_second"),
            "raw_rows_per_second": ops[key].get("raw_rows_per_second"),
            "rate_ratio_to_raw": ops[key].get("rate_ratio_to_raw"),
            "peak_python_bytes": ops[key].get("peak_python_bytes"),
            "peak_rss_bytes": ops[key].get("peak_rss_bytes"),
        }
        for key in ("csv_export", "csv_export_10k", "csv_export_1m", "xlsx_export")
        if key in ops
    }
    return {
        "pages": pages,
        "exports": exports,
        "csv_memory_growth_1m_over_10k": memory_growth(report),
        "statement_build_ratio_to_raw": _get(ops, "statement_build", "ratio_to_raw"),
        "poll_apply_rate_ratio_to_raw": _get(ops, "poll_apply", "rate_ratio_to_raw"),
    }


def targets(small: dict, large: dict) -> list[Target]:
    """Every target of the issue, judged on `large`."""
    s, l = _operations(small), _operations(large)  # noqa: E741
    found: list[Target] = []
    for key in PAGES:
        small_seconds, large_seconds = _get(s, key, "seconds"), _get(l, key, "seconds")
        found.append(
            Target(
                f"{key} under {PAGE_SECONDS} s",
                key,
                PAGE_SECONDS,
                small_seconds,
                large_seconds,
                None if large_seconds is None else large_seconds < PAGE_SECONDS,
            )
        )
        growth = _growth(small_seconds, large_seconds)
        found.append(
            Target(
                f"{key} within {PAGE_GROWTH}x of the small run",
                key,
                PAGE_GROWTH,
                1.0 if growth is not None else None,
                growth,
                _at_most(growth, PAGE_GROWTH),
            )
        )
    found.append(
        Target(
            f"CSV export at least {CSV_RATE_RATIO}x of COPY TO STDOUT's rows/s",
            "csv_export",
            CSV_RATE_RATIO,
            _get(s, "csv_export", "rate_ratio_to_raw"),
            _get(l, "csv_export", "rate_ratio_to_raw"),
            _at_least(_get(l, "csv_export", "rate_ratio_to_raw"), CSV_RATE_RATIO),
        )
    )
    small_memory, large_memory = memory_growth(small), memory_growth(large)
    found.append(
        Target(
            f"CSV peak memory at ~1M rows within {CSV_MEMORY_GROWTH}x of ~10k rows (Python)",
            "csv_export_1m",
            CSV_MEMORY_GROWTH,
            small_memory["python"],
            large_memory["python"],
            _at_most(large_memory["python"], CSV_MEMORY_GROWTH),
            _rows_note(l),
        )
    )
    found.append(
        Target(
            f"CSV peak memory at ~1M rows within {CSV_MEMORY_GROWTH}x of ~10k rows (RSS)",
            "csv_export_1m",
            CSV_MEMORY_GROWTH,
            small_memory["rss"],
            large_memory["rss"],
            _at_most(large_memory["rss"], CSV_MEMORY_GROWTH),
            "resident-set growth; under 1 MiB counted as 1 MiB",
        )
    )
    found.append(
        Target(
            f"XLSX export at least {XLSX_ROWS_PER_SECOND:,} rows/s",
            "xlsx_export",
            XLSX_ROWS_PER_SECOND,
            _get(s, "xlsx_export", "rows_per_second"),
            _get(l, "xlsx_export", "rows_per_second"),
            _at_least(_get(l, "xlsx_export", "rows_per_second"), XLSX_ROWS_PER_SECOND),
        )
    )
    found.append(
        Target(
            f"statement build within {BUILD_RATIO}x of the raw GROUP BY",
            "statement_build",
            BUILD_RATIO,
            _get(s, "statement_build", "ratio_to_raw"),
            _get(l, "statement_build", "ratio_to_raw"),
            _at_most(_get(l, "statement_build", "ratio_to_raw"), BUILD_RATIO),
        )
    )
    found.append(
        Target(
            f"poll apply at least {POLL_RATE_RATIO}x of the raw UPDATE's rate",
            "poll_apply",
            POLL_RATE_RATIO,
            _get(s, "poll_apply", "rate_ratio_to_raw"),
            _get(l, "poll_apply", "rate_ratio_to_raw"),
            _at_least(_get(l, "poll_apply", "rate_ratio_to_raw"), POLL_RATE_RATIO),
        )
    )
    for target in found:
        if target.met is None:
            target.note = "not measured" + (f"; {target.note}" if target.note else "")
    return found


def _rows_note(report: dict) -> str:
    ops = _operations(report)
    rows = [ops[key].get("rows") for key in ("csv_export_10k", "csv_export_1m") if key in ops]
    return "rows: " + " vs ".join(f"{n:,}" for n in rows if n is not None) if rows else ""


def growth_table(small: dict, large: dict) -> list[dict]:
    """Every operation of either run: seconds and queries at both sizes, and the growth."""
    s, l = _operations(small), _operations(large)  # noqa: E741
    keys = list(s) + [key for key in l if key not in s]
    rows = []
    for key in keys:
        small_seconds, large_seconds = _get(s, key, "seconds"), _get(l, key, "seconds")
        rows.append(
            {
                "key": key,
                "small_seconds": small_seconds,
                "large_seconds": large_seconds,
                "growth": _growth(small_seconds, large_seconds),
                "small_queries": s.get(key, {}).get("queries"),
                "large_queries": l.get(key, {}).get("queries"),
                "small_ratio_to_raw": s.get(key, {}).get("ratio_to_raw"),
                "large_ratio_to_raw": l.get(key, {}).get("ratio_to_raw"),
                "small_rows_per_second": s.get(key, {}).get("rows_per_second"),
                "large_rows_per_second": l.get(key, {}).get("rows_per_second"),
            }
        )
    return rows


def compare(small: dict, large: dict) -> dict:
    """The comparison as JSON-ready data: both runs' sizes, the growth table, the targets."""
    found = targets(small, large)
    return {
        "small": {"messages": small.get("messages"), "database": small.get("database", {})},
        "large": {"messages": large.get("messages"), "database": large.get("database", {})},
        "operations": growth_table(small, large),
        "targets": [asdict(target) for target in found],
        "targets_met": sum(t.met is True for t in found),
        "targets_missed": sum(t.met is False for t in found),
        "targets_not_measured": sum(t.met is None for t in found),
    }


def _figure(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def format_comparison(result: dict) -> list[str]:
    """The comparison as lines of text."""
    small, large = result["small"]["messages"], result["large"]["messages"]
    lines = [f"small run: {small:,} messages; large run: {large:,} messages", ""]
    header = (
        f"{'operation':<20} {'small s':>9} {'large s':>9} {'growth':>7} {'queries':>9} "
        f"{'raw ratio':>11} {'rows/s':>17}"
    )
    lines += [header, "-" * len(header)]
    for row in result["operations"]:
        queries = f"{row['small_queries'] or '-'}/{row['large_queries'] or '-'}"
        ratio = f"{_figure(row['small_ratio_to_raw'])}/{_figure(row['large_ratio_to_raw'])}"
        rate = f"{_rate(row['small_rows_per_second'])}/{_rate(row['large_rows_per_second'])}"
        growth = "-" if row["growth"] is None else f"{row['growth']:.2f}x"
        lines.append(
            f"{row['key']:<20} {_figure(row['small_seconds']):>9} "
            f"{_figure(row['large_seconds']):>9} {growth:>7} {queries:>9} {ratio:>11} {rate:>17}"
        )
    lines += ["", f"{'target':<72} {'small':>9} {'large':>9}  met"]
    for target in result["targets"]:
        met = {True: "yes", False: "NO", None: "-"}[target["met"]]
        note = f"  ({target['note']})" if target["note"] else ""
        lines.append(
            f"{target['target']:<72} {_figure(target['small']):>9} "
            f"{_figure(target['large']):>9}  {met}{note}"
        )
    lines.append(
        f"\n{result['targets_met']} met, {result['targets_missed']} missed, "
        f"{result['targets_not_measured']} not measured"
    )
    return lines
