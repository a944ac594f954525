"""Statement lines keep how many of their counted messages were delivered and undelivered at the
build, so a closed month's pages show its frozen figures without reading its items (issue 13,
item 2). Existing lines are filled from their statements' items; the lines' freeze triggers
(0002) are lifted for that one UPDATE and put back."""

import importlib

from django.db import migrations, models

guards = importlib.import_module("billing.migrations.0002_commission_item_rate_and_closed_guards")

TABLE = "billing_statementline"
FREEZE = [
    f"CREATE TRIGGER {TABLE}_frozen BEFORE INSERT OR UPDATE OR DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION billing_statement_child_frozen();"
]
UNFREEZE = [f"DROP TRIGGER IF EXISTS {TABLE}_frozen ON {TABLE};"]


def fill_delivery(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET delivered_messages = c.delivered, "
            "undelivered_messages = c.undelivered FROM ("
            "SELECT i.statement_id, m.account_id, m.message_type, i.agreement_id,"
            " SUM(CASE WHEN i.status = 'delivered' THEN 1 ELSE 0 END) AS delivered,"
            " SUM(CASE WHEN i.status = 'undelivered' THEN 1 ELSE 0 END) AS undelivered"
            " FROM billing_statementitem i JOIN billing_message m ON m.id = i.message_id"
            " GROUP BY i.statement_id, m.account_id, m.message_type, i.agreement_id) AS c "
            f"WHERE {TABLE}.statement_id = c.statement_id AND {TABLE}.account_id = c.account_id"
            f" AND {TABLE}.message_type = c.message_type"
            f" AND {TABLE}.agreement_id IS NOT DISTINCT FROM c.agreement_id"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0010_rollups_daily"),
    ]

    operations = [
        migrations.AddField(
            model_name="statementline",
            name="delivered_messages",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="statementline",
            name="undelivered_messages",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(guards._run(UNFREEZE), migrations.RunPython.noop),
        migrations.RunPython(fill_delivery, migrations.RunPython.noop),
        migrations.RunPython(guards._run(FREEZE), guards._run(UNFREEZE)),
    ]
