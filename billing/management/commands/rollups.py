"""Check the daily rollups against their messages, or rebuild them:
--check | --rebuild [--partner IC].

--check exits non-zero when any rollup row differs from a fresh aggregate of the messages.
"""

import sys
import time

from django.core.management.base import CommandError
from tqdm import tqdm

from billing.management.commands._billing import BillingCommand
from billing.models import DailyRollup, Partner
from billing.services import rollups

from ._billing import partner_arg

SHOWN = 20  # differences listed one by one; the rest counted


class Command(BillingCommand):
    help = (
        "Compare the daily rollups with a fresh aggregate of the messages (--check, non-zero"
        " exit on a difference) or replace them by one (--rebuild); --partner IC for one partner."
    )

    def add_arguments(self, parser):
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--check", action="store_true", help="compare, change nothing")
        action.add_argument("--rebuild", action="store_true", help="replace by a fresh aggregate")
        parser.add_argument("--partner", help="the partner's ic (default: every partner)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        partner = partner_arg(options["partner"]) if options["partner"] else None
        partners = 1 if partner is not None else Partner.objects.count()
        started = time.perf_counter()
        with tqdm(
            total=partners,
            unit="partner",
            desc="rollups " + ("check" if options["check"] else "rebuild"),
            disable=options["no_progress"],
            file=sys.stderr,
        ) as bar:
            if options["rebuild"]:
                written = rollups.rebuild(partner, progress=bar.update)
            else:
                found = rollups.differences(partner, progress=bar.update)
        seconds = time.perf_counter() - started
        scope = f"partner ic {partner.ic}" if partner is not None else f"{partners} partner(s)"
        if options["rebuild"]:
            self.stdout.write(
                self.style.SUCCESS(f"rollups of {scope} rebuilt: {written} rows in {seconds:.1f} s")
            )
            return
        rows = DailyRollup.objects.all()
        if partner is not None:
            rows = rows.filter(partner=partner)
        if not found:
            self.stdout.write(
                self.style.SUCCESS(
                    f"rollups of {scope} equal their messages ({rows.count()} rows) in"
                    f" {seconds:.1f} s"
                )
            )
            return
        for difference in found[:SHOWN]:
            self.stdout.write(str(difference))
        if len(found) > SHOWN:
            self.stdout.write(f"... and {len(found) - SHOWN} more")
        raise CommandError(
            f"rollups of {scope}: {len(found)} row(s) differ from their messages"
            f" (checked in {seconds:.1f} s); `manage.py rollups --rebuild"
            + (f" --partner {partner.ic}" if partner is not None else "")
            + "` recounts them"
        )
