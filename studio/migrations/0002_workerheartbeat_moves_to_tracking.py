"""Workers' heartbeats are tracking's now (tracking 0009 took the table over, unchanged)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("studio", "0001_initial"),
        ("tracking", "0009_compute_targets"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="WorkerHeartbeat")], database_operations=[]
        ),
    ]
