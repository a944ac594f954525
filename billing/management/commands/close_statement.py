"""Close a partner's month after the review window: rebuild, freeze, checksum, audit."""

from django.core.management.base import CommandError

from billing.commission import format_period
from billing.services.statement_closing import close_statement
from billing.services.statements import StatementError

from ._billing import BillingCommand, add_actor, default_actor, partner_arg, period_arg


class Command(BillingCommand):
    help = "Close a statement: --partner IC --period YYYY-MM."

    def add_arguments(self, parser):
        parser.add_argument("--partner", required=True, help="the partner's ic")
        parser.add_argument("--period", required=True, help="billing month, YYYY-MM")
        add_actor(parser)

    def handle(self, *args, **options):
        partner = partner_arg(options["partner"])
        period = period_arg(options["period"])
        try:
            result = close_statement(partner, period, actor=options["actor"] or default_actor())
        except StatementError as error:
            raise CommandError(str(error)) from None
        statement = result.statement
        if not result.changed:
            self.stdout.write(
                f"{partner} {format_period(period)} was already closed "
                f"({statement.closed_at:%Y-%m-%d %H:%M} by {statement.closed_by}); nothing changed."
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Closed {partner} {format_period(period)}: total {statement.total} "
                f"{statement.currency}, checksum {statement.checksum}"
            )
        )
