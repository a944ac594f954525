"""Create a partner: `manage.py create_partner --ic IC --name NAME`."""

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from billing.management.commands._billing import BillingCommand
from billing.services.accounts import create_partner, error_text


class Command(BillingCommand):
    help = "Create a partner with its SerwerSMS partner-programme ic."

    def add_arguments(self, parser):
        parser.add_argument("--ic", required=True, help="the partner's ic (a positive integer)")
        parser.add_argument("--name", required=True)

    def handle(self, *args, **options):
        try:
            partner = create_partner(name=options["name"], ic=options["ic"])
        except ValidationError as exc:
            raise CommandError(error_text(exc)) from None
        self.stdout.write(f"Created partner {partner.name} with ic {partner.ic} (id {partner.pk}).")
