"""Benchmark: create synthetic messages for a throwaway partner and time build_statements."""

import time
import uuid
from datetime import date, timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from billing.commission import month_bounds_utc
from billing.models import Agreement, AgreementTier, ClientAccount, Message, Partner
from billing.services.statements import build_statement

STATUSES = ["delivered"] * 80 + ["sent"] * 8 + ["undelivered"] * 5 + ["unsent"] * 4 + ["queued"] * 3


class Command(BaseCommand):
    help = "Create --messages synthetic messages in a bench partner and time building a statement."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=200_000)
        parser.add_argument("--accounts", type=int, default=20)
        parser.add_argument("--period", default="2024-10")
        parser.add_argument("--keep", action="store_true", help="keep the bench data afterwards")

    def handle(self, *args, **options):
        count, accounts_count = options["messages"], options["accounts"]
        if count < 1 or accounts_count < 1:
            raise CommandError("--messages and --accounts must be positive.")
        period = date.fromisoformat(options["period"] + "-01")
        start, end = month_bounds_utc(period)
        span = (end - start).total_seconds()
        tag = uuid.uuid4().hex[:8]
        ic = 900_000_000 + int(tag, 16) % 99_999_999

        with transaction.atomic():
            partner = Partner.objects.create(name=f"bench {tag}", ic=ic, is_active=False)
            agreement = Agreement.objects.create(
                partner=partner,
                valid_from=date(2000, 1, 1),
                basis="per_part",
                rate_eco=Decimal("0.01"),
                rate_full=Decimal("0.02"),
            )
            AgreementTier.objects.create(
                agreement=agreement,
                from_volume=count // 2,
                rate_eco=Decimal("0.005"),
                rate_full=Decimal("0.01"),
            )
            accounts = ClientAccount.objects.bulk_create(
                ClientAccount(partner=partner, name=f"bench-{tag}-{n}", api_token="x")
                for n in range(accounts_count)
            )
        began = time.perf_counter()
        batch = []
        with tqdm(total=count, unit="msg", desc="creating") as bar:
            for n in range(count):
                when = start + timedelta(seconds=span * n / count)
                batch.append(
                    Message(
                        partner=partner,
                        account=accounts[n % accounts_count],
                        ic=ic,
                        channel="api_v2",
                        serwersms_id=f"{n}",
                        unique_id=f"{tag}-{n}",
                        phone="+48500600700",
                        message_type="eco" if n % 5 else "full",
                        parts=1 + n % 3,
                        cost=Decimal("0.1650"),
                        status=STATUSES[n % len(STATUSES)],
                        created_at=when,
                        queued_at=when,
                        dispatched_at=when,
                    )
                )
                if len(batch) == 5000:
                    Message.objects.bulk_create(batch)
                    bar.update(len(batch))
                    batch = []
            if batch:
                Message.objects.bulk_create(batch)
                bar.update(len(batch))
        created = time.perf_counter() - began

        timings = []
        for label in ("build", "rebuild"):
            began = time.perf_counter()
            with tqdm(unit="msg", desc=label) as bar:
                statement = build_statement(
                    partner, period, actor="bench", progress=bar.update
                ).statement
            timings.append((label, time.perf_counter() - began))
        self.stdout.write(f"created {count} messages in {created:.1f}s")
        for label, seconds in timings:
            self.stdout.write(
                f"{label}: {seconds:.1f}s "
                f"({statement.counted_messages / seconds:,.0f} counted msg/s), "
                f"total {statement.total} PLN, {statement.lines.count()} lines"
            )
        if not options["keep"]:
            with transaction.atomic():
                statement.delete()
                Message.objects.filter(partner=partner).delete()
                ClientAccount.objects.filter(partner=partner).delete()
                agreement.delete()
                partner.audit_entries.all().delete()
                partner.delete()
            self.stdout.write("bench data removed")
