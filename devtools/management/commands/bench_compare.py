"""Compare two `manage.py bench` runs (a small and a large size) against issue 13's targets:
`python manage.py bench_compare small.json large.json [--output compare.json]`."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from devtools.bench.compare import compare, format_comparison


def _read(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise CommandError(f"{path}: {error}") from error


class Command(BaseCommand):
    help = "Print each bench operation at two sizes, its growth, and which targets are met."

    def add_arguments(self, parser):
        parser.add_argument("small", help="the bench JSON of the small run (e.g. 100k)")
        parser.add_argument("large", help="the bench JSON of the large run (e.g. 10M)")
        parser.add_argument("--output", help="write the comparison as JSON to this file")

    def handle(self, *args, small: str, large: str, output: str | None, **options):
        result = compare(_read(small), _read(large))
        result["files"] = {"small": small, "large": large}
        for line in format_comparison(result):
            self.stdout.write(line)
        if output:
            path = Path(output)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(result, indent=2) + "\n")
            self.stdout.write(f"comparison written to {path}")
