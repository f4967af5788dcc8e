import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_portal_accounts'),
        ('clients', '0005_retire_response_target'),
    ]

    operations = [
        migrations.AddField(
            model_name='apitoken',
            name='client',
            field=models.ForeignKey(blank=True, help_text="Only this client's tickets; empty: every client's (staff tools).", null=True, on_delete=django.db.models.deletion.CASCADE, related_name='api_tokens', to='clients.client'),
        ),
    ]
