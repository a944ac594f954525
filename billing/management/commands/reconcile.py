"""Reconcile SerwerSMS's partner billing (CSV) of a month with our messages and store it."""

from pathlib import Path

from django.core.management.base import CommandError

from billing.commission import format_period
from billing.models import ReconciliationOutcome
from billing.services.reconcile import ReconcileError, check_size, reconcile

from ._billing import BillingCommand, add_actor, default_actor, partner_arg, period_arg

SHOWN = 50


class Command(BillingCommand):
    help = "Reconcile with SerwerSMS: --partner IC --period YYYY-MM --file PATH."

    def add_arguments(self, parser):
        parser.add_argument("--partner", required=True, help="the partner's ic")
        parser.add_argument("--period", required=True, help="billing month, YYYY-MM")
        parser.add_argument("--file", required=True, help="SerwerSMS partner billing CSV")
        add_actor(parser)

    def handle(self, *args, **options):
        partner = partner_arg(options["partner"])
        period = period_arg(options["period"])
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            check_size(path.stat().st_size)  # before reading it
            report = reconcile(
                partner,
                period,
                path.read_bytes(),
                actor=options["actor"] or default_actor(),
                file_name=path.name,
            )
        except ReconcileError as error:
            raise CommandError(f"{path}: {error}") from None
        write = self.stdout.write
        write(f"{partner} {format_period(period)}")
        write(f"  SerwerSMS: {report.their_messages} messages, {report.their_parts} parts")
        write(f"  ours:      {report.our_messages} messages, {report.our_parts} parts")
        write(f"  matched:   {report.matched}")
        for side, rows in (("our", report.missing_ours), ("SerwerSMS's", report.missing_theirs)):
            write(f"  missing on {side} side: {len(rows)}")
            for row in rows[:SHOWN]:
                write(f"    {row.account} {row.serwersms_id} {row.status} {row.parts} parts")
        write(f"  disagreements (ours / SerwerSMS): {len(report.disagreements)}")
        for item in report.disagreements[:SHOWN]:
            write(
                f"    {item.account} {item.serwersms_id} {item.field}: {item.ours} / {item.theirs}"
            )
        outcomes = report.outcomes()
        write(
            f"  stored as reconciliation {report.reconciliation.pk}"
            + (" (replacing the previous upload)" if report.replaced else "")
        )
        for outcome in ReconciliationOutcome:
            write(f"    {outcome.label}: {outcomes[outcome.value]}")
        if report.clean:
            write(self.style.SUCCESS("No differences."))
        else:
            write(self.style.WARNING("Differences found."))
