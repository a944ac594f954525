"""StatementDay: each statement's items summed per Europe/Warsaw day, written by the statement
build (issue 13, item 5) so the dashboard's daily series never joins items to messages.

Existing statements get their days from their items here; then the table is frozen with its
statement like the other child tables (the triggers of 0002)."""

import importlib
from zoneinfo import ZoneInfo

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate

guards = importlib.import_module("billing.migrations.0002_commission_item_rate_and_closed_guards")

TABLE = "billing_statementday"
FREEZE = [
    f"CREATE TRIGGER {TABLE}_frozen BEFORE INSERT OR UPDATE OR DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION billing_statement_child_frozen();"
]
UNFREEZE = [f"DROP TRIGGER IF EXISTS {TABLE}_frozen ON {TABLE};"]


def fill_days(apps, schema_editor):
    StatementItem = apps.get_model("billing", "StatementItem")
    StatementDay = apps.get_model("billing", "StatementDay")
    db = schema_editor.connection.alias
    rows = (
        StatementItem.objects.using(db)
        .annotate(day=TruncDate("message__billing_at", tzinfo=ZoneInfo("Europe/Warsaw")))
        .values("statement_id", "day")
        .annotate(n=Count("id"), total=Sum("amount"))
        .order_by("statement_id", "day")
    )
    batch = []
    for row in rows.iterator(chunk_size=2000):
        batch.append(
            StatementDay(
                statement_id=row["statement_id"],
                day=row["day"],
                counted_messages=row["n"],
                commission=row["total"],
            )
        )
        if len(batch) >= 2000:
            StatementDay.objects.using(db).bulk_create(batch)
            batch = []
    StatementDay.objects.using(db).bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0008_merge_20261126_0257"),
    ]

    operations = [
        migrations.CreateModel(
            name="StatementDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("counted_messages", models.PositiveIntegerField(default=0)),
                ("commission", models.DecimalField(decimal_places=12, max_digits=24)),
                (
                    "statement",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="days",
                        to="billing.statement",
                    ),
                ),
            ],
            options={
                "ordering": ["statement", "day"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("statement", "day"), name="statement_day_unique"
                    )
                ],
            },
        ),
        migrations.RunPython(fill_days, migrations.RunPython.noop),
        migrations.RunPython(guards._run(FREEZE), guards._run(UNFREEZE)),
    ]
