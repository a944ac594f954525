from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from billing.models import ClientAccount
from partner_api.keys import ApiKeyError, create_api_key


class Command(BaseCommand):
    help = "Create an API key for a client account; prints the key, which is never shown again."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="client account name")
        parser.add_argument("--name", required=True, help="what the key is for")

    def handle(self, *args, account: str, name: str, **options):
        found = ClientAccount.objects.filter(name=account).first()
        if found is None:
            raise CommandError(f"Unknown client account {account!r}.")
        try:
            _key, raw = create_api_key(account=found, name=name, actor="manage.py create_api_key")
        except ApiKeyError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(raw)
