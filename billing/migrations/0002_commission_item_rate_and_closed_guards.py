"""Statement items keep the rate and cost they were priced at; closed statements are frozen by
database triggers (PostgreSQL and SQLite) so that even raw SQL cannot change them.

Note for later migrations on SQLite: Django rebuilds a table for most AlterField operations,
which drops its triggers; such a migration must run FREEZE_SQL again.
"""

from django.db import migrations, models

CHILD_TABLES = ("billing_statementline", "billing_statementitem", "billing_adjustment")

POSTGRESQL_FORWARD = [
    """
    CREATE OR REPLACE FUNCTION billing_statement_frozen() RETURNS trigger AS $$
    BEGIN
        IF OLD.status = 'closed' THEN
            RAISE EXCEPTION 'statement % is closed and cannot change', OLD.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER billing_statement_frozen BEFORE UPDATE OR DELETE ON billing_statement
    FOR EACH ROW EXECUTE FUNCTION billing_statement_frozen();
    """,
    """
    CREATE OR REPLACE FUNCTION billing_statement_child_frozen() RETURNS trigger AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            IF EXISTS (SELECT 1 FROM billing_statement
                       WHERE id = OLD.statement_id AND status = 'closed') THEN
                RAISE EXCEPTION 'statement % is closed: % refused on %',
                    OLD.statement_id, TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            IF EXISTS (SELECT 1 FROM billing_statement
                       WHERE id = NEW.statement_id AND status = 'closed') THEN
                RAISE EXCEPTION 'statement % is closed: % refused on %',
                    NEW.statement_id, TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END IF;
        RETURN OLD;
    END
    $$ LANGUAGE plpgsql;
    """,
] + [
    f"""
    CREATE TRIGGER {table}_frozen BEFORE INSERT OR UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION billing_statement_child_frozen();
    """
    for table in CHILD_TABLES
]

POSTGRESQL_BACKWARD = [f"DROP TRIGGER IF EXISTS {t}_frozen ON {t};" for t in CHILD_TABLES] + [
    "DROP TRIGGER IF EXISTS billing_statement_frozen ON billing_statement;",
    "DROP FUNCTION IF EXISTS billing_statement_child_frozen();",
    "DROP FUNCTION IF EXISTS billing_statement_frozen();",
]


def _sqlite_child(table: str) -> list[str]:
    closed = "(SELECT status FROM billing_statement WHERE id = {row}.statement_id) = 'closed'"
    raise_ = "BEGIN SELECT RAISE(ABORT, 'statement is closed: {op} refused on {table}'); END;"
    return [
        f"CREATE TRIGGER {table}_frozen_insert BEFORE INSERT ON {table} FOR EACH ROW "
        f"WHEN {closed.format(row='NEW')} {raise_.format(op='INSERT', table=table)}",
        f"CREATE TRIGGER {table}_frozen_update BEFORE UPDATE ON {table} FOR EACH ROW "
        f"WHEN {closed.format(row='OLD')} OR {closed.format(row='NEW')} "
        f"{raise_.format(op='UPDATE', table=table)}",
        f"CREATE TRIGGER {table}_frozen_delete BEFORE DELETE ON {table} FOR EACH ROW "
        f"WHEN {closed.format(row='OLD')} {raise_.format(op='DELETE', table=table)}",
    ]


SQLITE_FORWARD = [
    "CREATE TRIGGER billing_statement_frozen_update BEFORE UPDATE ON billing_statement "
    "FOR EACH ROW WHEN OLD.status = 'closed' "
    "BEGIN SELECT RAISE(ABORT, 'statement is closed and cannot change'); END;",
    "CREATE TRIGGER billing_statement_frozen_delete BEFORE DELETE ON billing_statement "
    "FOR EACH ROW WHEN OLD.status = 'closed' "
    "BEGIN SELECT RAISE(ABORT, 'statement is closed and cannot change'); END;",
] + [sql for table in CHILD_TABLES for sql in _sqlite_child(table)]

SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS {name};"
    for name in ["billing_statement_frozen_update", "billing_statement_frozen_delete"]
    + [f"{t}_frozen_{op}" for t in CHILD_TABLES for op in ("insert", "update", "delete")]
]

FREEZE_SQL = {"postgresql": POSTGRESQL_FORWARD, "sqlite": SQLITE_FORWARD}
UNFREEZE_SQL = {"postgresql": POSTGRESQL_BACKWARD, "sqlite": SQLITE_BACKWARD}


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        # Other databases get the model-level guards only.
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql, params=None)  # no %-placeholders: RAISE uses %

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="statementitem",
            name="cost",
            field=models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True),
        ),
        migrations.AddField(
            model_name="statementitem",
            name="rate",
            field=models.DecimalField(decimal_places=4, default=0, max_digits=12),
        ),
        migrations.RunPython(_run(FREEZE_SQL), _run(UNFREEZE_SQL)),
    ]
