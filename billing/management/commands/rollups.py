"""Check the derived data of messages (services/derived.py) or repair it. The late-change queue
misses a change when a writer went past derived.py (e.g. raw SQL)."""

import sys
import time

from django.core.management.base import CommandError
from tqdm import tqdm

from billing.models import DailyRollup, Partner
from billing.services import derived, rollups

from ._billing import BillingCommand, partner_arg

SHOWN = 20  # differences listed one by one; the rest counted


class Command(BillingCommand):
    help = (
        "Compare the daily rollups with a fresh aggregate of the messages and the late-change"
        " queue with the closed statements (--check, non-zero exit on a difference) or repair"
        " both (--rebuild); --partner IC for one partner."
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
                queued = derived.repair_late_changes(partner)
            else:
                found = derived.check(partner, progress=bar.update)
        seconds = time.perf_counter() - started
        scope = f"partner ic {partner.ic}" if partner is not None else f"{partners} partner(s)"
        if options["rebuild"]:
            self.stdout.write(
                self.style.SUCCESS(
                    f"rollups of {scope} rebuilt: {written} rows, {queued} late change(s)"
                    f" queued in {seconds:.1f} s"
                )
            )
            return
        problems = []
        if not found.rollups:
            rows = DailyRollup.objects.filter(partner=partner) if partner else DailyRollup.objects
            self.stdout.write(
                self.style.SUCCESS(f"rollups of {scope} equal their messages ({rows.count()} rows)")
            )
        else:
            self._list(found.rollups)
            problems.append(
                f"rollups of {scope}: {len(found.rollups)} row(s) differ from their messages"
            )
        if not found.late_changes:
            self.stdout.write(self.style.SUCCESS(f"late-change queue of {scope} complete"))
        else:
            self._list(found.late_changes)
            problems.append(
                f"late-change queue of {scope}: {len(found.late_changes)} message(s) of closed"
                " months not queued"
            )
        if problems:
            raise CommandError(
                "; ".join(problems)
                + f" (checked in {seconds:.1f} s); `manage.py rollups --rebuild"
                + (f" --partner {partner.ic}" if partner is not None else "")
                + "` repairs them"
            )
        self.stdout.write(f"checked in {seconds:.1f} s")

    def _list(self, found) -> None:
        for one in found[:SHOWN]:
            self.stdout.write(str(one))
        if len(found) > SHOWN:
            self.stdout.write(f"... and {len(found) - SHOWN} more")
