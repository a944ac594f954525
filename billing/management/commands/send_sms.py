"""Send an SMS through SerwerSMS with the partner's ic; one line per recipient."""

from django.core.management.base import BaseCommand, CommandError

from billing.services.sending import SENDING_CHANNELS, SendError, send_sms


class Command(BaseCommand):
    help = "Send one text to one or more recipients; prints our id, SerwerSMS id and status."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="client account name")
        parser.add_argument("--to", action="append", required=True, help="phone (repeatable)")
        parser.add_argument("--text", required=True)
        parser.add_argument("--sender", default=None, help="sender name (FULL SMS)")
        parser.add_argument(
            "--channel", default="api_v2", choices=[str(c) for c in SENDING_CHANNELS]
        )
        parser.add_argument("--unique-id", default=None, help="idempotency key")

    def handle(self, *args, **options):
        try:
            messages = send_sms(
                options["account"],
                options["to"],
                options["text"],
                sender=options["sender"],
                channel=options["channel"],
                unique_id=options["unique_id"],
            )
        except SendError as exc:
            raise CommandError(str(exc)) from None
        for message in messages:
            line = (
                f"#{message.pk} {message.unique_id}\t{message.serwersms_id or '-'}"
                f"\t{message.status}\t{message.phone}"
            )
            if message.error_message:
                line += f"\t{message.reason}: {message.error_message}"
            self.stdout.write(line)
