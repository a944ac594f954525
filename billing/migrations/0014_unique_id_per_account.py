# unique_id is unique per client account (as SerwerSMS scopes it), no longer across the service.
# The per-account constraint is added before the global one goes, so no moment lacks one.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0013_recon_reconciliations"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="message",
            constraint=models.UniqueConstraint(
                fields=("account", "unique_id"), name="message_unique_id_unique_per_account"
            ),
        ),
        migrations.AlterField(
            model_name="message",
            name="unique_id",
            field=models.CharField(max_length=64, verbose_name="unique id"),
        ),
    ]
