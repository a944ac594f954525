"""Generate N messages of a realistic shape and measure every partner-facing operation beside its
raw-SQL baseline: `python manage.py bench --messages N [--output bench.json]`.

Runs on the configured database (PostgreSQL for the figures that count; SQLite works). Use a
database of its own: the bench refuses to write next to real traffic. `--reuse` measures again
the bench data a previous run left.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone
from tqdm import tqdm

from devtools.bench import data, sqlgen
from devtools.bench.compare import run_figures
from devtools.bench.operations import (
    REPEATS,
    Portal,
    explain_message_pages,
    measure,
    operations,
    portal_settings,
)


def _database_facts() -> dict:
    facts = {"vendor": "postgresql", "name": str(settings.DATABASES["default"]["NAME"])}
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        facts["version"] = cursor.fetchone()[0]
        for name in ("jit", "work_mem", "shared_buffers", "statement_timeout"):
            cursor.execute(f"SHOW {name}")
            facts[name] = cursor.fetchone()[0]
    return facts


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


class Command(BaseCommand):
    help = "Generate N bench messages and time the portal, exports, statements and the poll pass."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, required=True, help="messages to generate")
        parser.add_argument("--output", help="write the figures as JSON to this file")
        parser.add_argument(
            "--reuse",
            action="store_true",
            help="measure the bench data already in the database instead of generating",
        )
        parser.add_argument(
            "--only", help="comma-separated operation keys to measure (default: all)"
        )
        parser.add_argument("--repeats", type=int, default=REPEATS)
        parser.add_argument(
            "--explain",
            action="store_true",
            help="print the plan of the messages page query for each filter (docs/scale.md)",
        )
        parser.add_argument("--seed", type=int, default=13)
        parser.add_argument(
            "--no-raw",
            default="",
            help="comma-separated operation keys measured without their raw-SQL baseline",
        )
        parser.add_argument(
            "--no-build",
            action="store_true",
            help="with --reuse: measure the statements already built, build no missing ones",
        )
        parser.add_argument(
            "--messages-only",
            action="store_true",
            help="generate the messages and stop; a later --reuse builds the statements",
        )
        parser.add_argument(
            "--generator",
            choices=("auto", "python", "sql"),
            default="auto",
            help="python: rows built in Python and COPYed; sql: generated inside "
            "PostgreSQL (10M in minutes); auto: sql",
        )

    def handle(
        self,
        *args,
        messages: int,
        output,
        reuse,
        only,
        repeats,
        seed,
        explain,
        generator,
        messages_only,
        no_build=False,
        no_raw="",
        **options,
    ):
        if messages < 1:
            raise CommandError("--messages must be positive.")
        now = timezone.now()
        world = data.load_world(now)
        timings: dict[str, float] = {}
        if reuse:
            if world is None:
                raise CommandError("--reuse: this database holds no bench data.")
            if not no_build:
                self._statements(world, timings)  # resumes a generation stopped before its end
        else:
            if world is not None or data.bench_partners().exists():
                raise CommandError(
                    "This database already holds bench data: measure it again with --reuse, "
                    "or run on a fresh database."
                )
            if data.foreign_messages_exist():
                raise CommandError(
                    "This database holds real messages: run the bench on a database of its own."
                )
            if generator == "auto":
                generator = "sql"
            world = self._generate(messages, now, seed, timings, generator, messages_only)
            if messages_only:
                self.stdout.write("messages generated; measure with --reuse (builds statements)")
                return
        world.counts = data.row_counts(world.partners)
        if explain:
            for label, plan, seconds in explain_message_pages(world):
                self.stdout.write(f"--- {label}: {seconds * 1000:.1f} ms through keyset_page")
                self.stdout.write(plan)
            return

        self.stdout.write(
            f"measuring on PostgreSQL: {world.counts['messages']:,} messages, "
            f"median of {repeats} ..."
        )
        results = []
        load_before = _load_average()
        with portal_settings():
            portal = Portal(world)
            wanted = set(only.split(",")) if only else None
            no_raw = set(filter(None, no_raw.split(",")))
            for operation in operations(world, portal):
                if wanted and operation.key not in wanted:
                    continue
                if operation.key in no_raw:
                    operation.raw = None  # e.g. openpyxl's per-cell baseline: hours at 10M
                self.stdout.write(f"  {operation.label} ...", ending="")
                self.stdout.flush()
                result = measure(operation, repeats)
                results.append(result)
                self.stdout.write(f" {_seconds(result.seconds)}")

        self._print_table(results, world)
        report = {
            "messages": world.counts["messages"],
            "generated_at": now.isoformat(),
            "database": _database_facts(),
            "python": platform.python_version(),
            "machine": {
                "cpus": _cpus(),
                "platform": platform.platform(),
                # Other work on the machine slows every figure: the load before and after.
                "load_average_before": load_before,
                "load_average_after": _load_average(),
            },
            "repeats": repeats,
            "rows": world.counts,
            "big_partner": {
                "ic": world.big.ic,
                "messages": world.big.messages.count(),
                "accounts": len(world.accounts[world.big.pk]),
            },
            "generation_seconds": {k: round(v, 1) for k, v in timings.items()},
            "operations": [r.as_dict() for r in results],
        }
        # The target figures of this run in one place (bench_compare judges two runs).
        report["figures"] = run_figures(report)
        if output:
            path = Path(output)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report, indent=2) + "\n")
            self.stdout.write(f"figures written to {path}")

    def _generate(
        self, messages: int, now, seed: int, timings: dict, generator: str, messages_only: bool
    ) -> data.BenchWorld:
        started = time.perf_counter()
        world = data.create_partners(now)
        generate = sqlgen.generate_messages if generator == "sql" else data.generate_messages
        with tqdm(total=messages, unit="msg", desc="messages", file=self.stderr) as bar:
            generate(world, messages, seed=seed, progress=bar.update)
        data.analyze()
        timings["messages"] = time.perf_counter() - started
        if not messages_only:
            self._statements(world, timings)
        return world

    def _statements(self, world: data.BenchWorld, timings: dict) -> None:
        """Close the past months and build the drafts; what is already built is kept."""
        jobs = data.statement_jobs(world)
        done = world.counts.get("statements", 0) if world.counts else 0
        if done >= len(jobs):
            return
        started = time.perf_counter()
        with tqdm(total=len(jobs), unit="statement", desc="statements", file=self.stderr) as bar:
            data.build_statements(world, progress=bar.update)
        timings["statements"] = time.perf_counter() - started

    def _print_table(self, results, world: data.BenchWorld) -> None:
        header = (
            f"{'operation':<52} {'product':>10} {'in DB':>10} {'raw SQL':>10} {'ratio':>7} "
            f"{'queries':>8} {'rows/s':>10} {'peak MiB':>9}"
        )
        self.stdout.write("")
        self.stdout.write(
            f"{world.counts['messages']:,} messages, big partner {world.big.messages.count():,} "
            "(PostgreSQL)"
        )
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for r in results:
            ratio = f"{r.ratio:.1f}x" if r.ratio is not None else "-"
            rate = f"{r.rows / r.seconds:,.0f}" if r.rows else "-"
            peak = f"{r.peak_python_bytes / 2**20:.1f}" if r.peak_python_bytes is not None else "-"
            self.stdout.write(
                f"{r.label[:52]:<52} {_seconds(r.seconds):>10} {_seconds(r.db_seconds):>10} "
                f"{_seconds(r.raw_seconds):>10} "
                f"{ratio:>7} {r.queries:>8} {rate:>10} {peak:>9}"
            )
        baselines = "; ".join(f"{r.key}: {r.raw_label}" for r in results)
        self.stdout.write(f"raw SQL baselines: {baselines}")


def _cpus() -> int | None:
    return os.cpu_count()


def _load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None
