"""Benchmark: create synthetic messages for a throwaway partner and time the message exports
(CSV streamed, XLSX write-only), with the process's peak memory."""

import resource
import time
import uuid
from datetime import timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone, translation

from billing.models import ClientAccount, Message, Partner
from billing.services import derived
from partner_portal import exports


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Command(BaseCommand):
    help = "Create --messages synthetic messages in a bench partner and time both exports."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=40_000)
        parser.add_argument("--keep", action="store_true", help="keep the bench data afterwards")

    def handle(self, *args, **options):
        count = options["messages"]
        if count < 1:
            raise CommandError("--messages must be positive.")
        tag = uuid.uuid4().hex[:8]
        ic = 900_000_000 + int(tag, 16) % 99_999_999
        now = timezone.now()
        with transaction.atomic():
            partner = Partner.objects.create(name=f"bench {tag}", ic=ic, is_active=False)
            account = ClientAccount.objects.create(
                partner=partner, name=f"bench-{tag}", api_token="x"
            )
            for start in range(0, count, 5000):
                written = Message.objects.bulk_create(
                    Message(
                        partner=partner,
                        account=account,
                        ic=ic,
                        channel="api_v2",
                        serwersms_id=f"{n:012d}",
                        unique_id=f"{tag}-{n}",
                        phone=f"+48500{n % 1_000_000:06d}",
                        sender="=HYPERLINK()" if n % 100 == 0 else "SKLEP",
                        message_type="eco",
                        parts=1,
                        cost=Decimal("0.0550"),
                        status="unsent" if n % 20 == 0 else "delivered",
                        reason="wrong_number" if n % 20 == 0 else "",
                        created_at=now - timedelta(seconds=n),
                        queued_at=now - timedelta(seconds=n),
                        dispatched_at=now - timedelta(seconds=n),
                    )
                    for n in range(start, min(start + 5000, count))
                )
                derived.messages_created(written, drafts=False)
        queryset = (
            Message.objects.filter(partner=partner)
            .select_related("account")
            .order_by("-created_at", "-id")
        )
        self.stdout.write(f"{count} messages; peak memory before exports {_peak_mb():.0f} MB")
        with translation.override("pl"):
            for fmt, respond in (
                ("csv", exports.messages_csv_response),
                ("xlsx", exports.messages_xlsx_response),
            ):
                began = time.perf_counter()
                size = sum(len(chunk) for chunk in respond(queryset, ic).streaming_content)
                self.stdout.write(
                    f"{fmt}: {time.perf_counter() - began:.1f}s, {size / 1e6:.1f} MB, "
                    f"peak memory {_peak_mb():.0f} MB"
                )
        if not options["keep"]:
            with transaction.atomic():
                Message.objects.filter(partner=partner).delete()
                account.delete()
                partner.delete()
            self.stdout.write("bench data removed")
