"""Erase one partner's personal data on request; its statements and totals stay."""

from django.core.management.base import CommandError

from billing.services import partner_data

from ._billing import BillingCommand, add_actor, default_actor, partner_arg


class Command(BillingCommand):
    help = (
        "Erase a partner's personal data (phones, texts, staff e-mail addresses and names); "
        "statements and their totals stay. Needs --confirm."
    )

    def add_arguments(self, parser):
        parser.add_argument("--partner", required=True, help="the partner's ic")
        parser.add_argument("--confirm", action="store_true", help="really erase (no undo)")
        add_actor(parser)

    def handle(self, *args, partner, confirm=False, actor=None, **options):
        partner = partner_arg(partner)
        if not confirm:
            raise CommandError(
                f"This erases the personal data of {partner.name} (ic {partner.ic}) for good: "
                "run again with --confirm."
            )
        summary = partner_data.erase_partner_data(partner, actor=actor or default_actor())
        self.stdout.write(
            f"{partner.name}: {summary.messages} message(s), {summary.users} user(s), "
            f"{summary.invitations} invitation(s), {summary.accounts} account address(es) erased"
        )
