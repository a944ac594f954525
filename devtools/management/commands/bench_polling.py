"""Benchmark one poll pass over N pending messages against the in-process simulator.

Prints status updates per second of the pass, beside a raw `UPDATE ... FROM (VALUES ...)` of the
same rows in the same run. Bench rows live under a throwaway partner/account, deleted afterwards.
"""

import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test.utils import override_settings
from django.utils import timezone

from billing.models import ClientAccount, Message, Partner, StatusEvent
from billing.services import derived, polling, rollups
from billing.statuses import Status

RAW_CHUNK = 1000


def raw_update_from_values(rows: list[tuple]) -> None:
    """rows: (id, status, sent_at, delivered_at, last_checked_at); one statement per chunk."""
    table = Message._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, len(rows), RAW_CHUNK):
            chunk = rows[start : start + RAW_CHUNK]
            values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
            cast = "::timestamptz"
            cursor.execute(
                f"WITH v(id, status, sent_at, delivered_at, checked) AS (VALUES {values}) "
                f"UPDATE {table} SET status = v.status, sent_at = v.sent_at{cast}, "
                f"delivered_at = v.delivered_at{cast}, last_checked_at = v.checked{cast} "
                f"FROM v WHERE {table}.id = v.id{'::bigint' if cast else ''}",
                [value for row in chunk for value in row],
            )


class Command(BaseCommand):
    help = "Measure one poll pass over N pending messages against the bundled simulator."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=100_000)
        parser.add_argument("--keep", action="store_true", help="keep the bench rows")

    def handle(self, *args, messages: int, keep: bool, **options):
        from serwersms_sim import SimulatorServer
        from serwersms_sim.sending import Message as SimMessage

        server = SimulatorServer(port=0, speed=0)
        server.start()
        tag = uuid.uuid4().hex[:8]
        partner = Partner.objects.create(name=f"bench {tag}", ic=900_000_000 + int(tag[:6], 16))
        account = ClientAccount.objects.create(
            partner=partner, name=f"bench-{tag}", api_token=f"bench-token-{tag}"
        )
        try:
            sim = server.sim
            sim.register_account({"name": account.name, "token": account.api_token})
            now = timezone.now()
            queued = now - timedelta(minutes=30)
            self.stdout.write(f"seeding {messages} messages ...")
            rows = []
            with sim.lock:
                for n in range(messages):
                    sid = f"b{tag}{n:08d}"
                    sim._add(
                        SimMessage(
                            id=sid,
                            account=account.name,
                            channel="api_v2",
                            ic=partner.ic,
                            phone=f"+4850{n % 10_000_000:07d}",
                            text="bench",
                            type="eco",
                            parts=1,
                            status="queued",
                            queued=queued,
                        )
                    )
                    rows.append(
                        Message(
                            partner=partner,
                            account=account,
                            ic=partner.ic,
                            channel="api_v2",
                            serwersms_id=sid,
                            unique_id=f"bench-{tag}-{n}",
                            phone=f"+48500{n:06d}",
                            status=Status.QUEUED,
                            created_at=queued,
                            queued_at=queued,
                            dispatched_at=queued,
                        )
                    )
            with transaction.atomic():
                Message.objects.bulk_create(rows, batch_size=2000)
                derived.messages_created(rows, drafts=False)
            sim.advance(to_final=True)
            with override_settings(
                SERWERSMS_API_URL=server.api_url,
                SERWERSMS_XML_API_URL=server.xml_url,
                SERWERSMS_RATE_LIMIT_PER_SECOND=0,
            ):
                started = time.perf_counter()
                summary = polling.poll_all_accounts(now=now, account_name=account.name)
                pass_seconds = time.perf_counter() - started
            self.stdout.write(f"poll pass: {summary.as_line()}")
            self.stdout.write(
                f"poll pass: {summary.changed} status updates in {pass_seconds:.2f} s = "
                f"{summary.changed / pass_seconds:,.0f} updates/s (HTTP, parsing, events included)"
            )
            # The same rows, the same new statuses, one raw statement per 1000 rows.
            final = list(
                Message.objects.filter(account=account).values_list(
                    "pk", "status", "sent_at", "delivered_at"
                )
            )
            Message.objects.filter(account=account).update(status=Status.QUEUED)
            raw_rows = [(pk, status, sent, delivered, now) for pk, status, sent, delivered in final]
            started = time.perf_counter()
            with transaction.atomic():
                raw_update_from_values(raw_rows)
            raw_seconds = time.perf_counter() - started
            rollups.rebuild(partner)  # the raw UPDATEs (and the reset before) bypass them
            self.stdout.write(
                f"raw UPDATE ... FROM (VALUES ...): {len(raw_rows)} rows in {raw_seconds:.2f} s = "
                f"{len(raw_rows) / raw_seconds:,.0f} updates/s"
            )
            self.stdout.write(
                f"database PostgreSQL, batch {settings.SERWERSMS_REPORTS_BATCH} ids/call"
            )
        finally:
            server.stop()
            if not keep:
                StatusEvent.objects.filter(message__account=account).delete()
                Message.objects.filter(account=account).delete()
                account.delete()
                partner.delete()
