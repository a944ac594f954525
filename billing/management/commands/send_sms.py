"""Send an SMS through SerwerSMS with the partner's ic; waits for the outcome, one line each."""

import time

from django.core.management.base import CommandError

from billing.management.commands._billing import BillingCommand
from billing.models import Message
from billing.services.outbox import SENDING_CHANNELS, SendError, send_sms
from billing.statuses import Status


class Command(BillingCommand):
    help = (
        "Send one text to one or more recipients through the outbox; waits (progress bar) for"
        " the send task and prints our id, SerwerSMS id and status of each message."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="client account name")
        parser.add_argument("--to", action="append", required=True, help="phone (repeatable)")
        parser.add_argument("--text", required=True)
        parser.add_argument("--sender", default=None, help="sender name (FULL SMS)")
        parser.add_argument(
            "--channel", default="api_v2", choices=[str(c) for c in SENDING_CHANNELS]
        )
        parser.add_argument("--unique-id", default=None, help="idempotency key")
        parser.add_argument(
            "--wait",
            type=float,
            default=60.0,
            help="seconds to wait for the send task (a Celery worker); 0 = do not wait",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        if options["wait"] < 0:
            raise CommandError("--wait must be 0 or more seconds.")
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
        pks = [m.pk for m in messages]
        deadline = time.monotonic() + options["wait"]
        with self.progress_bar(total=len(pks), unit="msg", disable=options["no_progress"]) as bar:
            while True:
                done = Message.objects.filter(pk__in=pks).exclude(status=Status.SUBMITTING).count()
                bar.update(done - bar.n)
                if done == len(pks) or time.monotonic() >= deadline:
                    break
                time.sleep(0.2)
        stored = Message.objects.in_bulk(pks)
        for pk in pks:
            message = stored[pk]
            line = (
                f"#{message.pk} {message.unique_id}\t{message.serwersms_id or '-'}"
                f"\t{message.status}\t{message.phone}"
            )
            if message.error_message:
                line += f"\t{message.reason}: {message.error_message}"
            self.stdout.write(line)
        waiting = sum(1 for m in stored.values() if m.status == Status.SUBMITTING)
        if waiting:
            self.stderr.write(
                f"{waiting} message(s) still submitting: the send task has not run yet"
                " (is a Celery worker running?); it finishes them when it does."
            )
