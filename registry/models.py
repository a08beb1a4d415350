"""Registry data: registered models, their versions, tags and aliases.

A version keeps a reference to its files (`storage_location`, an artifact URI of this server),
not a copy: runs, experiments and logged models are only ever soft-deleted, so the files a
version points at stay where they are. What the version's MLmodel said at registration
(flavors, signature, environment, file list) is copied into the version's row, so the registry
can describe a version without reading its files again.
"""

from __future__ import annotations

from django.db import models

from tracking.models import Run, Workspace

STAGE_NONE = "None"
STAGE_STAGING = "Staging"
STAGE_PRODUCTION = "Production"
STAGE_ARCHIVED = "Archived"
STAGES = (STAGE_NONE, STAGE_STAGING, STAGE_PRODUCTION, STAGE_ARCHIVED)
ACTIVE_STAGES = (STAGE_STAGING, STAGE_PRODUCTION)

READY = "READY"
PENDING_REGISTRATION = "PENDING_REGISTRATION"
FAILED_REGISTRATION = "FAILED_REGISTRATION"
STATUSES = (PENDING_REGISTRATION, FAILED_REGISTRATION, READY)


class RegisteredModel(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="registered_models")
    name = models.CharField(max_length=256)
    description = models.TextField(blank=True, default="")
    user_id = models.CharField(max_length=256, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # The highest version number ever given out: numbers of deleted versions are never reused.
    last_version_number = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="registered_model_name_per_workspace")
        ]
        indexes = [models.Index(fields=["workspace", "updated_at"], name="registered_model_updated")]

    def __str__(self) -> str:
        return self.name


class RegisteredModelTag(models.Model):
    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=250)
    value = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "key"], name="registered_model_tag_key")]


class ModelVersion(models.Model):
    id = models.BigAutoField(primary_key=True)
    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    version = models.IntegerField()
    description = models.TextField(blank=True, default="")
    user_id = models.CharField(max_length=256, blank=True, default="")
    # The source as the client gave it, and where the files are (what get-download-uri answers).
    source = models.TextField()
    storage_location = models.TextField()
    # Lineage: the run's id as given (it outlives the run), and the run while it exists.
    run_id = models.CharField(max_length=32, blank=True, default="")
    lineage_run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, related_name="model_versions")
    run_link = models.TextField(blank=True, default="")
    model_id = models.CharField(max_length=64, blank=True, default="")  # the logged model's id
    current_stage = models.CharField(max_length=20, choices=[(s, s) for s in STAGES], default=STAGE_NONE)
    status = models.CharField(max_length=20, choices=[(s, s) for s in STATUSES], default=READY)
    status_message = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    # What the MLmodel and the files next to it said at registration.
    flavors = models.JSONField(default=dict)
    signature_inputs = models.JSONField(null=True)
    signature_outputs = models.JSONField(null=True)
    signature_params = models.JSONField(null=True)
    input_example_info = models.JSONField(null=True)
    input_example = models.TextField(blank=True, default="")  # kept only when small
    mlflow_version = models.CharField(max_length=64, blank=True, default="")
    model_uuid = models.CharField(max_length=64, blank=True, default="")
    python_env = models.TextField(blank=True, default="")
    conda_env = models.TextField(blank=True, default="")
    requirements = models.TextField(blank=True, default="")
    files = models.JSONField(default=list)  # [[path relative to the model folder, size], ...]
    artifact_size = models.BigIntegerField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["registered_model", "version"], name="model_version_number")
        ]
        indexes = [
            # get-latest-versions: the highest version per stage of a model.
            models.Index(fields=["registered_model", "current_stage", "version"], name="model_version_stage"),
            models.Index(fields=["run_id"], name="model_version_run_id"),
            models.Index(fields=["model_id"], name="model_version_model_id"),
        ]

    def __str__(self) -> str:
        return f"v{self.version}"


class ModelVersionTag(models.Model):
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=250)
    value = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="model_version_tag_key")]


class RegisteredModelAlias(models.Model):
    """A name for one version of a model (`champion`); deleting the version deletes its aliases."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="aliases")
    alias = models.CharField(max_length=255)
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="aliases")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "alias"], name="registered_model_alias")]
