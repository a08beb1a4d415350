"""Compute targets, jobs' target, and workers' heartbeats taken over from the studio app (the table
stays studio_workerheartbeat; only Django's idea of which app owns it moves)."""

import django.utils.timezone
from django.db import migrations, models


def create_default_target(apps, schema_editor):
    apps.get_model("tracking", "ComputeTarget").objects.get_or_create(
        name="default", defaults={"description": "The worker that make run starts beside the web server."}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0008_environments"),
        ("studio", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="WorkerHeartbeat",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("hostname", models.CharField(max_length=255, unique=True)),
                        ("last_seen", models.DateTimeField()),
                        ("pid", models.IntegerField(default=0)),
                    ],
                    options={"db_table": "studio_workerheartbeat"},
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name="workerheartbeat", name="host", field=models.CharField(blank=True, default="", max_length=255)
        ),
        migrations.AddField(model_name="workerheartbeat", name="targets", field=models.JSONField(default=list)),
        migrations.AddField(
            model_name="workerheartbeat", name="concurrency", field=models.PositiveIntegerField(default=0)
        ),
        migrations.AddField(
            model_name="workerheartbeat", name="serves_general", field=models.BooleanField(default=True)
        ),
        migrations.AddField(
            model_name="workerheartbeat", name="started_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.CreateModel(
            name="ComputeTarget",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.SlugField(max_length=63, unique=True)),
                ("description", models.TextField(blank=True, default="")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={"ordering": ["name"]},
        ),
        migrations.AddField(
            model_name="job", name="compute_target", field=models.SlugField(default="default", max_length=63)
        ),
        migrations.RunPython(create_default_target, migrations.RunPython.noop),
    ]
