"""Create a SerwerSMS client account for a partner (token, or username and password)."""

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from billing.management.commands._billing import BillingCommand
from billing.services.accounts import create_account, error_text


class Command(BillingCommand):
    help = "Create a SerwerSMS client account whose traffic carries the partner's ic."

    def add_arguments(self, parser):
        parser.add_argument("--partner", required=True, help="the partner's ic")
        parser.add_argument("--name", required=True)
        parser.add_argument("--token", default="", help="API v2 token")
        parser.add_argument("--username", default="")
        parser.add_argument("--password", default="")
        parser.add_argument(
            "--email2sms-sender", default="", help="address authorised for Email2SMS"
        )
        parser.add_argument(
            "--email2sms-key", default="", help="the Email2SMS key of that address (a-z A-Z 0-9)"
        )

    def handle(self, *args, **options):
        try:
            account = create_account(
                partner_ic=options["partner"],
                name=options["name"],
                api_token=options["token"],
                username=options["username"],
                password=options["password"],
                email2sms_sender=options["email2sms_sender"],
                email2sms_key=options["email2sms_key"],
            )
        except ValidationError as exc:
            raise CommandError(error_text(exc)) from None
        self.stdout.write(
            f"Created client account {account.name} for partner {account.partner.name}"
            f" (ic {account.partner.ic})."
        )
