from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0010_alerts"),
    ]

    operations = [
        migrations.AddField(
            model_name="experiment",
            name="runs_changed_at",
            field=models.FloatField(default=0.0),
        ),
    ]
