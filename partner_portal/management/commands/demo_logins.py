"""Print the demo logins created by seed_demo."""

from django.core.management.base import BaseCommand

from billing.models import StaffRole
from partner_portal.demo import DEMO_OPERATOR, DEMO_USERS


class Command(BaseCommand):
    help = "Print the demo logins."

    def handle(self, *args, **options):
        self.stdout.write("\nDemo logins (portal at /, operators at /admin/):")
        for username, password, partner_name, role in DEMO_USERS:
            self.stdout.write(
                f"  {username:<16} {password:<16} {partner_name} — {StaffRole(role).label}"
            )
        username, password = DEMO_OPERATOR
        self.stdout.write(f"  {username:<16} {password:<16} operator (Django admin)")
