"""Build or rebuild the draft statements of a month (closed months are left as they are)."""

import sys

from tqdm import tqdm

from billing.commission import format_period
from billing.services.statements import build_statements

from ._billing import BillingCommand, add_actor, default_actor, partner_arg, period_arg


class Command(BillingCommand):
    help = "Build or rebuild the draft statements of a month: --period YYYY-MM [--partner IC]."

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="billing month, YYYY-MM")
        parser.add_argument("--partner", help="the partner's ic (default: every partner)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        add_actor(parser)

    def handle(self, *args, **options):
        period = period_arg(options["period"])
        partner = partner_arg(options["partner"]) if options["partner"] else None
        actor = options["actor"] or default_actor()
        with tqdm(
            unit="msg",
            desc=f"statements {format_period(period)}",
            disable=options["no_progress"],
            file=sys.stderr,
        ) as bar:
            results = build_statements(period, partner=partner, actor=actor, progress=bar.update)
        for result in results:
            statement = result.statement
            if result.skipped_closed:
                self.stdout.write(f"{statement.partner}: closed, left as it is")
                continue
            self.stdout.write(
                f"{statement.partner}: {statement.counted_messages} counted, "
                f"{statement.pending_messages} pending, {statement.unsent_messages} unsent, "
                f"{result.adjustments} adjustment(s), total {statement.total} {statement.currency}"
            )
        self.stdout.write(
            self.style.SUCCESS(f"{len(results)} statement(s) for {format_period(period)}")
        )
