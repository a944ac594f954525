"""Print the demo logins created by seed_demo, each with its role, in the console's language."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import translation
from django.utils.translation import gettext as _

from billing.models import StaffRole
from devtools.demo import DEMO_OPERATOR, DEMO_USERS


def console_language(environ=os.environ) -> str:
    """The language of the terminal (LC_ALL, LC_MESSAGES, LANG, LANGUAGE), if the portal has it;
    else English."""
    available = {code for code, _name in settings.LANGUAGES}
    for name in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = environ.get(name, "")
        code = value.split(":")[0].split(".")[0].split("_")[0].lower()
        if code in available:
            return code
        if value and code not in ("", "c", "posix"):
            break
    return "en"


class Command(BaseCommand):
    help = "Print the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--language", help="pl or en (default: the console's language)")

    def handle(self, *args, **options):
        with translation.override(options["language"] or console_language()):
            self.stdout.write(
                "\n"
                + _("Demo logins (portal at /, operators at /%(admin)s):")
                % {"admin": settings.ADMIN_PATH}
            )
            for username, password, partner_name, role in DEMO_USERS:
                self.stdout.write(
                    f"  {username:<14} {password:<20} {partner_name:<14} {StaffRole(role).label}"
                )
            username, password = DEMO_OPERATOR
            operator = _("operator (admin)")
            self.stdout.write(f"  {username:<14} {password:<20} {'':<14} {operator}")
