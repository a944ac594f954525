"""Export everything the portal holds about one partner as a zip (JSON + CSV)."""

from pathlib import Path

from django.core.management.base import CommandError

from billing.services import partner_data

from ._billing import BillingCommand, add_actor, default_actor, partner_arg


class Command(BillingCommand):
    help = (
        "Export a partner's data (partner, accounts without secrets, staff, statements, messages)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--partner", required=True, help="the partner's ic")
        parser.add_argument("--output", required=True, help="the zip file to write")
        add_actor(parser)

    def handle(self, *args, partner, output, actor=None, **options):
        partner = partner_arg(partner)
        path = Path(output)
        if not path.parent.is_dir():
            raise CommandError(f"No directory {path.parent} to write {path.name} into.")
        summary = partner_data.export_partner_data(
            partner, target=path, actor=actor or default_actor()
        )
        self.stdout.write(
            f"{path}: {summary.accounts} account(s), {summary.staff} staff, "
            f"{summary.statements} statement(s), {summary.messages} message(s)"
        )
