"""LateChange: the late-change queue of the statement build (issue 13, item 5).

Database triggers on billing_message write it in the transaction of every change or insert,
whatever path makes it (the status path, partner software reporting old messages, the admin,
raw SQL): a message whose status, parts, cost or billing time changed, or that appeared, while
its old or new billing month (Europe/Warsaw) had a closed statement for its partner.

Statement-level triggers over the transition tables (one INSERT ... SELECT per UPDATE or COPY,
not one per row). A change racing with the closing of its month is never lost: the trigger takes
a shared advisory lock per (partner, month) it touches (try-lock: it never waits),
close_statement takes the exclusive one before it builds. If the month is being closed at that
moment, the change is queued anyway (harmless: the build re-checks exactly).

Existing closed statements get their entries here (what the build before this queue would have
re-checked): billed messages that differ from their item now or left the month, and counted
messages of the month billed on no closed statement.
"""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models
from django.db.models import Exists, F, OuterRef, Q

ZONE = "Europe/Warsaw"  # commission.BILLING_ZONE (test_late_change_queue checks they agree)
COUNTED = ("delivered", "sent", "undelivered")  # statuses.COUNTED

_CHANGED = (
    "(o.status, o.parts, o.cost, o.billing_at) IS DISTINCT FROM "
    "(n.status, n.parts, n.cost, n.billing_at)"
)
# The rows the statement changed (or inserted), with their old and new billing instants.
_ROWS = {
    "UPDATE": (
        "SELECT n.id, n.partner_id, o.billing_at AS old_at, n.billing_at AS new_at "
        f"FROM late_change_new n JOIN late_change_old o ON o.id = n.id WHERE {_CHANGED}"
    ),
    "INSERT": (
        "SELECT n.id, n.partner_id, n.billing_at AS old_at, n.billing_at AS new_at "
        "FROM late_change_new n"
    ),
}
_MONTH = f"date_trunc('month', v.at AT TIME ZONE '{ZONE}')::date"


def _postgresql_function(operation: str) -> str:
    rows = f"({_ROWS[operation]}) r CROSS JOIN LATERAL (VALUES (r.old_at), (r.new_at)) AS v(at)"
    return f"""
    CREATE OR REPLACE FUNCTION billing_message_late_change_{operation.lower()}()
    RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        month record;
        key bigint;
        watched bigint[] := '{{}}';
    BEGIN
        -- Each (partner, month) the statement touched, old or new: few per statement.
        FOR month IN SELECT DISTINCT r.partner_id, {_MONTH} AS period FROM {rows} LOOP
            key := billing_month_lock_key(month.partner_id, month.period);
            -- Taken, the shared lock stays until this transaction ends, so no closing of the
            -- month can start before it commits. Refused: the month is being closed right
            -- now, and whether it will be is unknown: queue.
            IF NOT pg_try_advisory_xact_lock_shared(key) THEN
                watched := watched || key;
            -- A new statement, so a new snapshot: a closing committed meanwhile is seen.
            ELSIF EXISTS (
                SELECT 1 FROM billing_statement s
                WHERE s.partner_id = month.partner_id AND s.period = month.period
                  AND s.status = 'closed'
            ) THEN
                watched := watched || key;
            END IF;
        END LOOP;
        IF cardinality(watched) > 0 THEN
            INSERT INTO billing_latechange (partner_id, message_id, period, created_at)
            SELECT DISTINCT r.partner_id, r.id, {_MONTH}, now() FROM {rows}
            WHERE billing_month_lock_key(r.partner_id, {_MONTH}) = ANY(watched)
            ON CONFLICT (message_id, period) DO NOTHING;
        END IF;
        RETURN NULL;
    END
    $$;
    """


POSTGRESQL_FORWARD = [
    # One definition of the lock key, for the triggers and close_statement alike.
    """
    CREATE OR REPLACE FUNCTION billing_month_lock_key(partner_id bigint, period date)
    RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
        SELECT partner_id * 100000
            + (extract(year FROM period)::bigint * 12 + extract(month FROM period)::bigint)
    $$;
    """,
    _postgresql_function("UPDATE"),
    _postgresql_function("INSERT"),
    """
    CREATE TRIGGER billing_message_late_change_update AFTER UPDATE ON billing_message
    REFERENCING OLD TABLE AS late_change_old NEW TABLE AS late_change_new
    FOR EACH STATEMENT EXECUTE FUNCTION billing_message_late_change_update();
    """,
    """
    CREATE TRIGGER billing_message_late_change_insert AFTER INSERT ON billing_message
    REFERENCING NEW TABLE AS late_change_new
    FOR EACH STATEMENT EXECUTE FUNCTION billing_message_late_change_insert();
    """,
]
POSTGRESQL_BACKWARD = [
    "DROP TRIGGER IF EXISTS billing_message_late_change_update ON billing_message;",
    "DROP TRIGGER IF EXISTS billing_message_late_change_insert ON billing_message;",
    "DROP FUNCTION IF EXISTS billing_message_late_change_update();",
    "DROP FUNCTION IF EXISTS billing_message_late_change_insert();",
    "DROP FUNCTION IF EXISTS billing_month_lock_key(bigint, date);",
]


TRIGGERS = POSTGRESQL_FORWARD
NO_TRIGGERS = POSTGRESQL_BACKWARD


def _run(statements):
    def run(apps, schema_editor):
        for sql in statements:
            schema_editor.execute(sql, params=None)  # no %-placeholders

    return run


def _month_bounds(period):
    zone = ZoneInfo(ZONE)
    following = period.replace(year=period.year + period.month // 12, month=period.month % 12 + 1)
    return tuple(
        datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC) for day in (period, following)
    )


def fill_queue(apps, schema_editor):
    """Queue what the build before this migration would still find in each closed month."""
    Statement = apps.get_model("billing", "Statement")
    StatementItem = apps.get_model("billing", "StatementItem")
    Message = apps.get_model("billing", "Message")
    LateChange = apps.get_model("billing", "LateChange")
    db = schema_editor.connection.alias
    with schema_editor.connection.cursor() as cursor:  # the anti-join needs statistics
        cursor.execute("ANALYZE billing_statement, billing_statementitem")
    billed_on_closed = StatementItem.objects.using(db).filter(
        message_id=OuterRef("pk"), statement__status="closed"
    )
    closed = Statement.objects.using(db).filter(status="closed").order_by("partner_id", "period")
    for statement in closed.iterator():
        start, end = _month_bounds(statement.period)
        changed = (  # the build's own test (statements._late_changes), plus leaving the month
            ~Q(message__status=F("status"))
            | Q(message__parts__lt=F("parts"))
            | Q(message__parts__gt=F("parts"))
            | Q(message__cost__isnull=True, cost__isnull=False)
            | Q(message__cost__isnull=False, cost__isnull=True)
            | Q(message__cost__lt=F("cost"))
            | Q(message__cost__gt=F("cost"))
            | Q(message__billing_at__lt=start)
            | Q(message__billing_at__gte=end)
        )
        ids = set(
            StatementItem.objects.using(db)
            .filter(statement=statement)
            .filter(changed)
            .values_list("message_id", flat=True)
        )
        ids |= set(
            Message.objects.using(db)
            .filter(
                partner_id=statement.partner_id,
                billing_at__gte=start,
                billing_at__lt=end,
                status__in=COUNTED,
            )
            .exclude(Exists(billed_on_closed))
            .values_list("id", flat=True)
        )
        LateChange.objects.using(db).bulk_create(
            [
                LateChange(partner_id=statement.partner_id, message_id=pk, period=statement.period)
                for pk in sorted(ids)
            ],
            batch_size=2000,
            ignore_conflicts=True,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0009_scale2_statement_days"),
    ]

    operations = [
        migrations.CreateModel(
            name="LateChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "period",
                    models.DateField(help_text="The closed billing month the change touched."),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "message",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="late_changes",
                        to="billing.message",
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
                "ordering": ["period", "message"],
                "indexes": [
                    models.Index(fields=["partner", "period"], name="late_change_partner_period")
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("message", "period"), name="late_change_unique")
                ],
            },
        ),
        migrations.RunPython(fill_queue, migrations.RunPython.noop),
        migrations.RunPython(_run(TRIGGERS), _run(NO_TRIGGERS)),
    ]
