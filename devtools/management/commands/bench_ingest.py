"""Benchmark reported-message ingestion beside a raw COPY of the same rows (PostgreSQL).

    python manage.py bench_ingest --rows 100000 [--batch 10000] [--http]

Prints rows per second of: COPY of the message rows alone; record_reported_messages (checks,
INSERT ... ON CONFLICT, first StatusEvents) in API-sized batches; with --http, the same through
POST /api/v1/messages/reported in-process (JSON, schema, key). Everything it wrote is deleted,
and the tables are vacuumed between phases. The draft refreshes it queues find no partner.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from billing.models import ClientAccount, Message, Partner, StatusEvent
from billing.services import rollups
from billing.services.reporting import Reported, _new_row, copy_rows, record_reported_messages
from partner_api.keys import create_api_key
from partner_api.models import ApiKey


class Command(BaseCommand):
    help = "Measure reported-message ingestion (rows/s) beside a raw COPY of the same rows."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=100_000)
        parser.add_argument("--batch", type=int, default=10_000, help="items per API request")
        parser.add_argument("--http", action="store_true", help="also through the HTTP endpoint")

    def handle(self, *args, rows: int, batch: int, http: bool, **options):
        if not 1 <= rows <= 10_000_000 or not 1 <= batch <= 10_000:
            raise CommandError("--rows 1..10,000,000 and --batch 1..10,000.")
        tag = uuid.uuid4().hex[:8]
        partner = Partner.objects.create(name=f"bench {tag}", ic=900_000_000 + int(tag[:5], 16))
        account = ClientAccount.objects.create(
            partner=partner, name=f"bench-{tag}", api_token=f"bench-{tag}"
        )
        try:
            self._run(partner, account, rows, batch, http, tag)
        finally:
            self._clean(partner, account)

    def _items(self, partner, prefix: str, rows: int) -> list[Reported]:
        sent = timezone.now() - dt.timedelta(minutes=5)
        return [
            Reported(
                serwersms_id=f"{prefix}{n:09d}",
                phone=f"+4850{n % 10_000_000:07d}",
                ic=partner.ic,
                sent_at=sent,
                parts=1 + n % 3,
            )
            for n in range(rows)
        ]

    def _run(self, partner, account, rows, batch, http, tag):
        self.stdout.write(
            f"{rows:,} rows, batches of {batch:,}, PostgreSQL {connection.pg_version}"
        )
        # 1. COPY of the very rows the service would write (built beforehand, not timed).
        items = self._items(partner, f"c{tag}", rows)
        now = timezone.now()
        names, values = copy_rows([_new_row(item, item.phone) for item in items], account, now)
        columns = ", ".join(connection.ops.quote_name(name) for name in names)
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            with cursor.cursor.copy(
                f"COPY {Message._meta.db_table} ({columns}) FROM STDIN"
            ) as copy:
                for row in values:
                    copy.write_row(row)
        copy_seconds = time.perf_counter() - started
        self._clean_messages(account)
        copy_rate = rows / copy_seconds
        self.stdout.write(
            f"COPY                     {copy_seconds:8.2f} s  {copy_rate:10,.0f} rows/s"
        )

        # 2. The service, in API-sized batches.
        items = self._items(partner, f"s{tag}", rows)
        started = time.perf_counter()
        created = 0
        for start in range(0, rows, batch):
            results = record_reported_messages(account=account, items=items[start : start + batch])
            created += sum(r.outcome == "created" for r in results)
        service_seconds = time.perf_counter() - started
        if created != rows:
            raise CommandError(f"only {created} of {rows} rows were created")
        rate = rows / service_seconds
        self.stdout.write(
            f"record_reported_messages {service_seconds:8.2f} s  {rate:10,.0f} rows/s"
            f"  = {rate / copy_rate:.2f}x COPY (also writes {rows:,} StatusEvents)"
        )
        # 3. Optionally the whole HTTP path.
        if http:
            self._clean_messages(account)
            _key, raw = create_api_key(account=account, name="bench", actor="bench_ingest")
            client = Client(headers={"authorization": f"Bearer {raw}"})
            items = self._items(partner, f"h{tag}", rows)
            bodies = [
                json.dumps(
                    {
                        "messages": [
                            {
                                "serwersms_id": i.serwersms_id,
                                "phone": i.phone,
                                "ic": i.ic,
                                "sent_at": i.sent_at.isoformat(),
                                "parts": i.parts,
                            }
                            for i in items[start : start + batch]
                        ]
                    }
                )
                for start in range(0, rows, batch)
            ]
            from django.conf import settings

            settings.API_RATE_LIMIT = "1000000/min"
            started = time.perf_counter()
            for body in bodies:
                response = client.post(
                    "/api/v1/messages/reported", body, content_type="application/json"
                )
                if response.status_code != 200 or response.json()["refused"]:
                    raise CommandError(f"HTTP answer {response.status_code}")
            http_seconds = time.perf_counter() - started
            rate = rows / http_seconds
            self.stdout.write(
                f"POST /messages/reported  {http_seconds:8.2f} s  {rate:10,.0f} rows/s"
                f"  = {rate / copy_rate:.2f}x COPY"
            )

    def _clean_messages(self, account):
        """Delete the run's rows and vacuum, so every phase starts on the same table."""
        StatusEvent.objects.filter(message__account=account).delete()
        Message.objects.filter(account=account).delete()
        rollups.rebuild(account.partner)  # the COPY phase wrote messages past the rollups
        with connection.cursor() as cursor:
            for model in (Message, StatusEvent):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")

    def _clean(self, partner, account):
        self._clean_messages(account)
        ApiKey.objects.filter(account=account).delete()
        from billing.models import AuditEntry

        AuditEntry.objects.filter(partner=partner).delete()
        account.delete()
        partner.delete()
