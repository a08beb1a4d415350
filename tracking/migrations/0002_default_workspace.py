from django.db import migrations
from django.utils import timezone


def create_defaults(apps, schema_editor):
    """A fresh install serves the root tracking URI at once: default group, workspace, experiment 0."""
    ResourceGroup = apps.get_model("tracking", "ResourceGroup")
    Workspace = apps.get_model("tracking", "Workspace")
    Experiment = apps.get_model("tracking", "Experiment")
    group, _ = ResourceGroup.objects.get_or_create(
        name="default", defaults={"description": "Created at installation."}
    )
    workspace, _ = Workspace.objects.get_or_create(
        name="default",
        defaults={"resource_group": group, "description": "The root tracking URI's workspace."},
    )
    now = timezone.now()
    Experiment.objects.get_or_create(
        workspace=workspace,
        number=0,
        defaults={
            "name": "Default",
            "artifact_location": "mlflow-artifacts:/0",
            "created_at": now,
            "updated_at": now,
        },
    )


class Migration(migrations.Migration):
    dependencies = [("tracking", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
