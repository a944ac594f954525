"""Issue 17: SerwerSMS's record is the billing record; what proves the ic.

Message: the partner's claim (claimed_*), when SerwerSMS's own figures came
(serwersms_figures_at) and what proves the ic (ic_proof). DailyRollup gets ic_proof as a
dimension; Statement and StatementLine the "reported, not yet confirmed" share. PostgreSQL: the
late-change trigger of 0010 also watches ic_proof, so a confirmation after a month closed
becomes an adjustment. Existing reported messages become `reported` with their figures kept as
their claim; the rollups are recomputed with the new dimension.
"""

import importlib

from django.db import migrations, models

LATE = importlib.import_module("billing.migrations.0010_stmt_late_changes")
WATCHED = (
    "(o.status, o.parts, o.cost, o.billing_at, o.ic_proof) IS DISTINCT FROM "
    "(n.status, n.parts, n.cost, n.billing_at, n.ic_proof)"
)


def _update_function(changed: str) -> str:
    return LATE._postgresql_function("UPDATE").replace(LATE._CHANGED, changed)


FORWARD = [
    _update_function(WATCHED),
    # Reported messages carried only the partner's word: it becomes their claim.
    """
    UPDATE billing_message SET ic_proof = 'reported', claimed_status = status,
        claimed_type = message_type, claimed_parts = parts, claimed_cost = cost,
        claimed_sent_at = queued_at
    WHERE channel = 'reported'
    """,
    # The product's own messages: SerwerSMS's answer gave their figures when they were queued.
    """
    UPDATE billing_message SET serwersms_figures_at = coalesce(last_checked_at, queued_at)
    WHERE channel <> 'reported' AND serwersms_id IS NOT NULL
    """,
    "DELETE FROM billing_dailyrollup",
    """
    INSERT INTO billing_dailyrollup (partner_id, day, account_id, message_type, status, ic_proof,
        messages, parts, cost)
    SELECT partner_id, (billing_at AT TIME ZONE 'Europe/Warsaw')::date, account_id, message_type,
        status, ic_proof, count(*), sum(parts), coalesce(sum(cost), 0)
    FROM billing_message GROUP BY 1, 2, 3, 4, 5, 6
    """,
]
BACKWARD = [_update_function(LATE._CHANGED)]


def _run(statements):
    def run(apps, schema_editor):
        for sql in statements:
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0014_unique_id_per_account"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="dailyrollup",
            options={
                "ordering": ["partner", "day", "account", "message_type", "status", "ic_proof"]
            },
        ),
        migrations.RemoveConstraint(
            model_name="dailyrollup",
            name="rollup_partner_day_key",
        ),
        migrations.AddField(
            model_name="dailyrollup",
            name="ic_proof",
            field=models.CharField(
                choices=[
                    ("sent", "sent by the product"),
                    ("reported", "reported, not yet confirmed"),
                    ("confirmed", "confirmed by SerwerSMS"),
                    ("refuted", "refuted by SerwerSMS"),
                ],
                db_default="sent",
                default="sent",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="message",
            name="claimed_cost",
            field=models.DecimalField(
                blank=True, decimal_places=4, max_digits=12, null=True, verbose_name="claimed cost"
            ),
        ),
        migrations.AddField(
            model_name="message",
            name="claimed_parts",
            field=models.PositiveSmallIntegerField(
                blank=True, null=True, verbose_name="claimed parts"
            ),
        ),
        migrations.AddField(
            model_name="message",
            name="claimed_sent_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="claimed send time"),
        ),
        migrations.AddField(
            model_name="message",
            name="claimed_status",
            field=models.CharField(blank=True, max_length=16, verbose_name="claimed status"),
        ),
        migrations.AddField(
            model_name="message",
            name="claimed_type",
            field=models.CharField(blank=True, max_length=8, verbose_name="claimed type"),
        ),
        migrations.AddField(
            model_name="message",
            name="ic_proof",
            field=models.CharField(
                choices=[
                    ("sent", "sent by the product"),
                    ("reported", "reported, not yet confirmed"),
                    ("confirmed", "confirmed by SerwerSMS"),
                    ("refuted", "refuted by SerwerSMS"),
                ],
                db_default="sent",
                default="sent",
                max_length=16,
                verbose_name="ic proof",
            ),
        ),
        migrations.AddField(
            model_name="message",
            name="serwersms_figures_at",
            field=models.DateTimeField(
                blank=True, null=True, verbose_name="figures from SerwerSMS"
            ),
        ),
        migrations.AddField(
            model_name="statement",
            name="unconfirmed_commission",
            field=models.DecimalField(
                decimal_places=12,
                default=0,
                max_digits=26,
                verbose_name="commission not yet confirmed",
            ),
        ),
        migrations.AddField(
            model_name="statement",
            name="unconfirmed_messages",
            field=models.PositiveIntegerField(default=0, verbose_name="not yet confirmed"),
        ),
        migrations.AddField(
            model_name="statement",
            name="unconfirmed_parts",
            field=models.PositiveIntegerField(default=0, verbose_name="parts not yet confirmed"),
        ),
        migrations.AddField(
            model_name="statementline",
            name="unconfirmed_commission",
            field=models.DecimalField(decimal_places=12, default=0, max_digits=26),
        ),
        migrations.AddField(
            model_name="statementline",
            name="unconfirmed_messages",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="statementline",
            name="unconfirmed_parts",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="action",
            field=models.CharField(
                choices=[
                    ("build", "statement built"),
                    ("adjust", "late changes carried as adjustments"),
                    ("close", "statement closed"),
                    ("download", "statement downloaded"),
                    ("export", "statement exported"),
                    ("reconcile", "reconciled with SerwerSMS"),
                    ("payout", "payout state changed"),
                    ("notify", "billing managers notified"),
                    ("agreement_create", "agreement created"),
                    ("staff_invited", "colleague invited"),
                    ("staff_joined", "colleague joined"),
                    ("staff_removed", "colleague removed"),
                    ("invitation_revoked", "invitation revoked"),
                    ("api_key_created", "API key created"),
                    ("api_key_revoked", "API key revoked"),
                    ("ic_proof", "reported messages confirmed or refuted by SerwerSMS"),
                ],
                max_length=32,
                verbose_name="action",
            ),
        ),
        migrations.AlterField(
            model_name="statusevent",
            name="source",
            field=models.CharField(
                choices=[
                    ("send", "send"),
                    ("poll", "poll"),
                    ("callback", "callback"),
                    ("manual", "manual"),
                    ("reconcile", "SerwerSMS partner billing"),
                ],
                max_length=16,
                verbose_name="source",
            ),
        ),
        migrations.AddConstraint(
            model_name="dailyrollup",
            constraint=models.UniqueConstraint(
                fields=("partner", "day", "account", "message_type", "status", "ic_proof"),
                name="rollup_partner_day_proof_key",
            ),
        ),
        migrations.RunPython(_run(FORWARD), _run(BACKWARD)),
    ]
