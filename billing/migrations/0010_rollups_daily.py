"""DailyRollup: messages per partner, client account, message type, status and Europe/Warsaw day
of their billing time, with parts and known cost (issue 13, item 2). Kept exact from here on by
the writers (billing/services/rollups.py); filled here from the messages already stored: one
INSERT ... SELECT ... GROUP BY (10M messages: one pass)."""

import django.db.models.deletion
from django.db import migrations, models

ZONE = "Europe/Warsaw"  # commission.BILLING_ZONE as it was when this migration was written


def fill_rollups(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO billing_dailyrollup "
            "(partner_id, day, account_id, message_type, status, messages, parts, cost) "
            "SELECT partner_id, (billing_at AT TIME ZONE %s)::date, account_id, message_type,"
            " status, count(*), sum(parts), coalesce(sum(cost), 0) "
            "FROM billing_message GROUP BY 1, 2, 3, 4, 5",
            [ZONE],
        )
        cursor.execute("ANALYZE billing_dailyrollup")  # the pages' plans need its size


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
