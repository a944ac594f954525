"""DailyRollup: messages per partner, client account, message type, status and Europe/Warsaw day
of their billing time, with parts and known cost (issue 13, item 2). Kept exact from here on by
the writers (billing/services/rollups.py); filled here from the messages already stored: one
INSERT ... SELECT ... GROUP BY on PostgreSQL (10M messages: one pass), Python on SQLite."""

from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

import django.db.models.deletion
from django.db import migrations, models

ZONE = "Europe/Warsaw"  # commission.BILLING_ZONE as it was when this migration was written
BATCH = 2000


def fill_rollups(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO billing_dailyrollup "
                "(partner_id, day, account_id, message_type, status, messages, parts, cost) "
                "SELECT partner_id, (billing_at AT TIME ZONE %s)::date, account_id, message_type,"
                " status, count(*), sum(parts), coalesce(sum(cost), 0) "
                "FROM billing_message GROUP BY 1, 2, 3, 4, 5",
                [ZONE],
            )
            cursor.execute("ANALYZE billing_dailyrollup")  # the pages' plans need its size
        return
    Message = apps.get_model("billing", "Message")
    DailyRollup = apps.get_model("billing", "DailyRollup")
    db = connection.alias
    zone = ZoneInfo(ZONE)
    totals: dict[tuple, list] = defaultdict(lambda: [0, 0, Decimal(0)])
    rows = Message.objects.using(db).order_by().values_list(
        "partner_id", "billing_at", "account_id", "message_type", "status", "parts", "cost"
    )
    for partner_id, billing_at, account_id, message_type, status, parts, cost in rows.iterator(
        chunk_size=BATCH
    ):
        key = (partner_id, billing_at.astimezone(zone).date(), account_id, message_type, status)
        total = totals[key]
        total[0] += 1
        total[1] += parts
        total[2] += cost or 0
    DailyRollup.objects.using(db).bulk_create(
        (
            DailyRollup(
                partner_id=key[0],
                day=key[1],
                account_id=key[2],
                message_type=key[3],
                status=key[4],
                messages=n,
                parts=parts,
                cost=cost,
            )
            for key, (n, parts, cost) in sorted(totals.items())
        ),
        batch_size=BATCH,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0009_scale2_statement_days"),
    ]

    operations = [
        migrations.CreateModel(
            name="DailyRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "message_type",
                    models.CharField(
                        choices=[
                            ("eco", "ECO"),
                            ("full", "FULL"),
                            ("mms", "MMS"),
                            ("voice", "voice"),
                        ],
                        max_length=8,
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("submitting", "submitting"),
                            ("saved", "scheduled"),
                            ("queued", "queued"),
                            ("in_progress", "in progress"),
                            ("sent", "sent"),
                            ("delivered", "delivered"),
                            ("undelivered", "undelivered"),
                            ("unsent", "unsent"),
                        ],
                        max_length=16,
                    ),
                ),
                ("day", models.DateField()),
                ("messages", models.IntegerField(default=0)),
                ("parts", models.BigIntegerField(default=0)),
                ("cost", models.DecimalField(decimal_places=4, default=0, max_digits=18)),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="billing.clientaccount",
                    ),
                ),
                (
                    "partner",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="billing.partner",
                    ),
                ),
            ],
            options={
                "ordering": ["partner", "day", "account", "message_type", "status"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("partner", "day", "account", "message_type", "status"),
                        name="rollup_partner_day_key",
                    )
                ],
            },
        ),
        migrations.RunPython(fill_rollups, migrations.RunPython.noop),
    ]
