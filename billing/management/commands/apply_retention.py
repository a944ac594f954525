"""Erase phones and texts past retention now, with a progress bar (the beat task's twin)."""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import CommandError
from django.utils import timezone

from billing.management.commands._billing import BillingCommand
from billing.services import retention


def _now_arg(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--now takes an ISO date and time, got {value!r}.") from None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


class Command(BillingCommand):
    help = (
        "Reduce phones to their last digits and empty texts of messages billed more than "
        "RETENTION_MONTHS ago in closed statements."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count only, change nothing")
        parser.add_argument("--months", type=int, help="retention in months (RETENTION_MONTHS)")
        parser.add_argument("--batch", type=int, help="messages per transaction (RETENTION_BATCH)")
        parser.add_argument("--now", type=_now_arg, help="as if it were this time (ISO)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, dry_run=False, months=None, batch=None, now=None, **options):
        if months is not None and months < 1:
            raise CommandError("--months must be at least 1.")
        if batch is not None and batch < 1:
            raise CommandError("--batch must be at least 1.")
        now = now or timezone.now()
        total = 0 if dry_run else retention.messages_past_retention(now=now, months=months).count()
        with self.progress_bar(
            total=total or None, unit="msg", disable=options["no_progress"]
        ) as bar:
            summary = retention.apply_retention(
                now=now, months=months, batch=batch, dry_run=dry_run, progress=bar.update
            )
        verb = "would erase" if dry_run else "erased"
        self.stdout.write(
            f"{verb} the phones and texts of {summary.messages} message(s) "
            f"of {len(summary.by_partner)} partner(s)"
        )
