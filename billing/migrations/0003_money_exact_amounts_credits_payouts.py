"""Money (issue 10): exact amounts and 6-decimal rates, the billing instant as a stored column,
partner legal data and VAT, statement rounding / credits / VAT / number, payouts, audit actions.

PostgreSQL keeps the freeze triggers of 0002 through ALTER TABLE.
"""

import billing.models
import django.core.validators
import django.db.models.deletion
import django.db.models.functions.comparison
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0002_commission_item_rate_and_closed_guards'),
    ]

    operations = [
        migrations.CreateModel(
            name='Payout',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('invoiced', 'invoiced'), ('paid', 'paid')], max_length=16, verbose_name='payout state')),
                ('invoice_number', models.CharField(blank=True, max_length=64, verbose_name="partner's invoice number")),
                ('invoiced_on', models.DateField(blank=True, null=True, verbose_name='invoiced on')),
                ('paid_on', models.DateField(blank=True, null=True, verbose_name='paid on')),
                ('updated_by', models.CharField(blank=True, max_length=150, verbose_name='updated by')),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='updated')),
            ],
            options={
                'verbose_name': 'payout',
                'verbose_name_plural': 'payouts',
            },
        ),
        migrations.RemoveIndex(
            model_name='message',
            name='message_partner_dispatched',
        ),
        migrations.AddField(
            model_name='statement',
            name='opening_credit_from',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='billing.statement', verbose_name='credit from statement'),
        ),
        migrations.AddField(
            model_name='partner',
            name='address',
            field=models.TextField(blank=True, verbose_name='address'),
        ),
        migrations.AddField(
            model_name='partner',
            name='legal_name',
            field=models.CharField(blank=True, max_length=255, verbose_name='legal name'),
        ),
        migrations.AddField(
            model_name='partner',
            name='tax_id',
            field=models.CharField(blank=True, max_length=13, validators=[billing.models.validate_nip], verbose_name='tax id (NIP)'),
        ),
        migrations.AddField(
            model_name='partner',
            name='vat_rate',
            field=models.DecimalField(blank=True, decimal_places=2, help_text="Leave empty when the partner's statements carry no VAT.", max_digits=5, null=True, validators=[django.core.validators.MinValueValidator(0)], verbose_name='VAT rate (%)'),
        ),
        migrations.AddField(
            model_name='statement',
            name='carried_forward',
            field=models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name='credit carried forward'),
        ),
        migrations.AddField(
            model_name='statement',
            name='gross',
            field=models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name='gross'),
        ),
        migrations.AddField(
            model_name='statement',
            name='number',
            field=models.CharField(blank=True, max_length=40, verbose_name='number'),
        ),
        migrations.AddField(
            model_name='statement',
            name='opening_credit',
            field=models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name='credit brought forward'),
        ),
        migrations.AddField(
            model_name='statement',
            name='printed_commission',
            field=models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name='commission as printed'),
        ),
        migrations.AddField(
            model_name='statement',
            name='printed_adjustments',
            field=models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name='adjustments as printed'),
        ),
        migrations.AddField(
            model_name='statement',
            name='rounding',
            field=models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name='rounding'),
        ),
        migrations.AddField(
            model_name='statement',
            name='vat',
            field=models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name='VAT'),
        ),
        migrations.AddField(
            model_name='statement',
            name='vat_rate',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=5, null=True, verbose_name='VAT rate (%)'),
        ),
        migrations.AlterField(
            model_name='adjustment',
            name='amount',
            field=models.DecimalField(decimal_places=12, max_digits=24),
        ),
        migrations.AlterField(
            model_name='adjustment',
            name='new_amount',
            field=models.DecimalField(decimal_places=12, max_digits=24),
        ),
        migrations.AlterField(
            model_name='adjustment',
            name='old_amount',
            field=models.DecimalField(decimal_places=12, max_digits=24),
        ),
        migrations.AlterField(
            model_name='agreement',
            name='rate_eco',
            field=models.DecimalField(decimal_places=6, default=0, max_digits=14, verbose_name='rate ECO'),
        ),
        migrations.AlterField(
            model_name='agreement',
            name='rate_full',
            field=models.DecimalField(decimal_places=6, default=0, max_digits=14, verbose_name='rate FULL'),
        ),
        migrations.AlterField(
            model_name='agreement',
            name='rate_mms',
            field=models.DecimalField(decimal_places=6, default=0, max_digits=14, verbose_name='rate MMS'),
        ),
        migrations.AlterField(
            model_name='agreement',
            name='rate_voice',
            field=models.DecimalField(decimal_places=6, default=0, max_digits=14, verbose_name='rate voice'),
        ),
        migrations.AlterField(
            model_name='agreementtier',
            name='rate_eco',
            field=models.DecimalField(decimal_places=6, default=0, max_digits=14, verbose_name='rate ECO'),
        ),
        migrations.AlterField(
            model_name='agreementtier',
            name='rate_full',
            field=models.DecimalField(decimal_places=6, default=0, max_digits=14, verbose_name='rate FULL'),
        ),
        migrations.AlterField(
            model_name='agreementtier',
            name='rate_mms',
            field=models.DecimalField(decimal_places=6, default=0, max_digits=14, verbose_name='rate MMS'),
        ),
        migrations.AlterField(
            model_name='agreementtier',
            name='rate_voice',
            field=models.DecimalField(decimal_places=6, default=0, max_digits=14, verbose_name='rate voice'),
        ),
        migrations.AlterField(
            model_name='auditentry',
            name='action',
            field=models.CharField(choices=[('build', 'statement built'), ('adjust', 'late changes carried as adjustments'), ('close', 'statement closed'), ('download', 'statement downloaded'), ('export', 'statement exported'), ('reconcile', 'reconciled with SerwerSMS'), ('payout', 'payout state changed'), ('notify', 'billing managers notified'), ('agreement_create', 'agreement created')], max_length=32, verbose_name='action'),
        ),
        migrations.AlterField(
            model_name='auditentry',
            name='actor',
            field=models.CharField(max_length=150, verbose_name='who'),
        ),
        migrations.AlterField(
            model_name='auditentry',
            name='created_at',
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name='when'),
        ),
        migrations.AlterField(
            model_name='auditentry',
            name='detail',
            field=models.JSONField(blank=True, default=dict, verbose_name='detail'),
        ),
        migrations.AlterField(
            model_name='statement',
            name='adjustments_total',
            field=models.DecimalField(decimal_places=12, default=0, max_digits=26, verbose_name='adjustments'),
        ),
        migrations.AlterField(
            model_name='statement',
            name='commission',
            field=models.DecimalField(decimal_places=12, default=0, max_digits=26, verbose_name='commission'),
        ),
        migrations.AlterField(
            model_name='statement',
            name='forecast_commission',
            field=models.DecimalField(decimal_places=12, default=0, max_digits=26, verbose_name='pending forecast'),
        ),
        migrations.AlterField(
            model_name='statementitem',
            name='amount',
            field=models.DecimalField(decimal_places=12, max_digits=24),
        ),
        migrations.AlterField(
            model_name='statementitem',
            name='rate',
            field=models.DecimalField(decimal_places=6, default=0, max_digits=14),
        ),
        migrations.AlterField(
            model_name='statementline',
            name='commission',
            field=models.DecimalField(decimal_places=12, default=0, max_digits=26),
        ),
        migrations.AddField(
            model_name='payout',
            name='statement',
            field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='payout', to='billing.statement', verbose_name='statement'),
        ),
        migrations.AddField(
            model_name='message',
            name='billing_at',
            field=models.GeneratedField(db_persist=True, expression=django.db.models.functions.comparison.Coalesce('dispatched_at', 'created_at'), output_field=models.DateTimeField(), verbose_name='billing time'),
        ),
        migrations.AddIndex(
            model_name='message',
            index=models.Index(fields=['partner', 'billing_at'], name='message_partner_billing'),
        ),
        migrations.AddConstraint(
            model_name='payout',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'paid'), _negated=True), ('paid_on__isnull', False), _connector='OR'), name='payout_paid_has_date'),
        ),
        migrations.AddConstraint(
            model_name='payout',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'invoiced'), _negated=True), ('invoiced_on__isnull', False), _connector='OR'), name='payout_invoiced_has_date'),
        ),
    ]
