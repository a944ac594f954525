"""Write a statement as CSV, XLSX or PDF (summary, lines, adjustments, every counted message)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from billing.commission import format_period
from billing.exports import FORMATS, render_statement
from billing.models import AuditAction, AuditEntry, Statement

from ._billing import BillingCommand, add_actor, default_actor, partner_arg, period_arg


class Command(BillingCommand):
    help = "Export a statement: --partner IC --period YYYY-MM --format csv|xlsx|pdf --output PATH."

    def add_arguments(self, parser):
        parser.add_argument("--partner", required=True, help="the partner's ic")
        parser.add_argument("--period", required=True, help="billing month, YYYY-MM")
        parser.add_argument("--format", required=True, choices=sorted(FORMATS))
        parser.add_argument("--output", required=True, help="file to write")
        parser.add_argument(
            "--language",
            choices=[code for code, _name in settings.LANGUAGES],
            default=settings.LANGUAGE_CODE,
            help="language of the document (default: %(default)s)",
        )
        add_actor(parser)

    def handle(self, *args, **options):
        partner = partner_arg(options["partner"])
        period = period_arg(options["period"])
        statement = Statement.objects.filter(partner=partner, period=period).first()
        if statement is None:
            raise CommandError(
                f"No statement for {partner} {format_period(period)}: run build_statements first."
            )
        output = Path(options["output"])
        if not output.parent.exists():
            raise CommandError(f"The folder {output.parent} does not exist.")
        content = render_statement(statement, options["format"], options["language"])[0]
        output.write_bytes(content)
        AuditEntry.objects.create(
            partner=partner,
            statement=statement,
            action=AuditAction.EXPORT,
            actor=options["actor"] or default_actor(),
            detail={"format": options["format"], "bytes": len(content)},
        )
        self.stdout.write(self.style.SUCCESS(f"Wrote {output} ({len(content)} bytes)"))
