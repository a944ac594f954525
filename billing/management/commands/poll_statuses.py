"""Run one status poll pass in the foreground, with a progress bar and a summary line."""

from django.core.management.base import CommandError
from django.utils import timezone

from billing.management.commands._billing import BillingCommand
from billing.services import polling


class Command(BillingCommand):
    help = "Ask SerwerSMS for the status of pending messages once (all active accounts or one)."

    def add_arguments(self, parser):
        parser.add_argument("--account", help="only this client account (its name)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, account=None, no_progress=False, **options):
        accounts = polling.active_accounts(account)
        if account and not accounts.exists():
            raise CommandError(f"No active client account named {account!r}.")
        now = timezone.now()
        total = polling.pollable_count(accounts, now)
        with self.progress_bar(total=total, unit="msg", disable=no_progress) as bar:
            summary = polling.poll_all_accounts(now=now, account_name=account, progress=bar.update)
        self.stdout.write(summary.as_line())
        for line in summary.error_messages:
            self.stderr.write(f"error: {line}")
