"""Create the demo data (idempotent): partners, agreements, accounts, logins, traffic."""

from django.core.management.base import BaseCommand

from devtools import demo


class Command(BaseCommand):
    help = "Create demo partners, agreements, client accounts, staff logins and messages."

    def add_arguments(self, parser):
        parser.add_argument(
            "--simulator",
            metavar="URL",
            help="Register the demo accounts with this running simulator (API v2 base URL) and "
            "send recent messages through it.",
        )

    def handle(self, *args, **options):
        demo.seed(stdout=self.stdout, simulator_url=options["simulator"])
