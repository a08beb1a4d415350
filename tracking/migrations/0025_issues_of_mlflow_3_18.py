"""MLflow 3.18's issues: ids a client may choose (unique per workspace), metadata, who updated an
issue last, when it was last seen, and categories searched by key."""

import hashlib

import django.db.models.deletion
from django.db import migrations, models


def fill_workspaces_and_category_keys(apps, schema_editor):
    Issue = apps.get_model("tracking", "Issue")
    IssueCategory = apps.get_model("tracking", "IssueCategory")
    Experiment = apps.get_model("tracking", "Experiment")
    for experiment_pk, workspace_pk in Experiment.objects.filter(issues__isnull=False).values_list(
        "pk", "workspace_id"
    ).distinct():
        Issue.objects.filter(experiment_id=experiment_pk).update(workspace_id=workspace_pk)
    keys = []
    for pk, categories in Issue.objects.exclude(categories=None).values_list("pk", "categories").iterator():
        for key in {hashlib.sha256(c.strip().lower().encode()).hexdigest() for c in categories or []}:
            keys.append(IssueCategory(issue_id=pk, key=key))
    IssueCategory.objects.bulk_create(keys, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0024_metric_points_checked_by_their_insert"),
    ]

    operations = [
        migrations.AddField(
            model_name="issue",
            name="workspace",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="issues",
                to="tracking.workspace",
            ),
        ),
        migrations.AddField(model_name="issue", name="metadata", field=models.JSONField(null=True)),
        migrations.AddField(
            model_name="issue", name="last_updated_by", field=models.CharField(max_length=255, null=True)
        ),
        migrations.AddField(model_name="issue", name="last_seen_at", field=models.DateTimeField(null=True)),
        migrations.CreateModel(
            name="IssueCategory",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key", models.CharField(max_length=64)),
                (
                    "issue",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="category_keys",
                        to="tracking.issue",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["key", "issue"], name="tracking_is_key_f9a091_idx")],
                "constraints": [models.UniqueConstraint(fields=("issue", "key"), name="issue_category_once")],
            },
        ),
        migrations.RunPython(fill_workspaces_and_category_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="issue",
            name="workspace",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="issues", to="tracking.workspace"
            ),
        ),
        migrations.AlterField(model_name="issue", name="issue_id", field=models.CharField(max_length=36)),
        migrations.AddConstraint(
            model_name="issue",
            constraint=models.UniqueConstraint(fields=("workspace", "issue_id"), name="issue_id_per_workspace"),
        ),
    ]
