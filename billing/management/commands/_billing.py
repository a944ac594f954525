"""Shared argument parsing for the billing commands: period, partner, actor."""

from __future__ import annotations

import getpass
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from billing.commission import parse_period
from billing.models import Partner


def period_arg(value: str) -> date:
    try:
        return parse_period(value)
    except ValueError as error:
        raise CommandError(str(error)) from None


def partner_arg(ic: str | int) -> Partner:
    try:
        number = int(ic)
    except (TypeError, ValueError):
        raise CommandError(f"--partner takes the partner's ic (a number), got {ic!r}.") from None
    partner = Partner.objects.filter(ic=number).first()
    if partner is None:
        raise CommandError(f"No partner with ic {number}.")
    return partner


def default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in some containers
        return "cli"


def add_actor(parser) -> None:
    parser.add_argument("--actor", default=None, help="name recorded in the audit trail")


class BillingCommand(BaseCommand):
    """A command whose text arguments are checked first: a NUL character (which no stored text
    may hold, and PostgreSQL refuses) is a clear CommandError before anything is read or written."""

    def execute(self, *args, **options):
        for name, value in [("argument", a) for a in args] + list(options.items()):
            values = value if isinstance(value, list | tuple) else [value]
            if any(isinstance(v, str) and "\x00" in v for v in values):
                raise CommandError(f"--{name.replace('_', '-')}: NUL characters are not allowed.")
        return super().execute(*args, **options)

    def progress_bar(self, *, disable: bool, **options) -> tqdm:
        """A tqdm bar on the command's stderr that is gone once done."""
        return tqdm(disable=disable, file=self.stderr._out, leave=False, **options)
