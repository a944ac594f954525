"""Issue 18: derived data is kept by one mechanism, billing/services/derived.py, in the writer's
transaction (docs/derived-data.md). The late-change triggers of migration 0010 (their update
function as 0015 left it) are dropped: the writers queue late changes themselves, with the same
rows and the same advisory lock. billing_month_lock_key stays: close_statement and derived.py
both use it. The closed-statement guard stays where it is, in the database (0002's triggers).
"""

import importlib

from django.db import migrations

LATE = importlib.import_module("billing.migrations.0010_stmt_late_changes")
PROOF = importlib.import_module("billing.migrations.0015_record_ic_proof")

DROP = [
    "DROP TRIGGER IF EXISTS billing_message_late_change_update ON billing_message;",
    "DROP TRIGGER IF EXISTS billing_message_late_change_insert ON billing_message;",
    "DROP FUNCTION IF EXISTS billing_message_late_change_update();",
    "DROP FUNCTION IF EXISTS billing_message_late_change_insert();",
]
# Back to the triggers as 0015 left them (its update function watches ic_proof too).
RESTORE = [
    PROOF._update_function(PROOF.WATCHED),
    LATE._postgresql_function("INSERT"),
    *[sql for sql in LATE.POSTGRESQL_FORWARD if "CREATE TRIGGER" in sql],
]


def _run(statements):
    def run(apps, schema_editor):
        for sql in statements:
            schema_editor.execute(sql, params=None)  # no %-placeholders

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0017_audit_actions"),
    ]

    operations = [
        migrations.RunPython(_run(DROP), _run(RESTORE)),
    ]
