"""Create the demo data (idempotent): partners, agreements, accounts, logins, 3 months of traffic."""

from django.core.management.base import BaseCommand

from partner_portal import demo


class Command(BaseCommand):
    help = "Create demo partners, agreements, client accounts, staff logins and messages."

    def handle(self, *args, **options):
        demo.seed(stdout=self.stdout)
