"""Statement items keep the rate and cost they were priced at; closed statements are frozen by
database triggers so that even raw SQL cannot change them.
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


FREEZE_SQL = POSTGRESQL_FORWARD
UNFREEZE_SQL = POSTGRESQL_BACKWARD


def _run(statements):
    def run(apps, schema_editor):
        for sql in statements:
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
