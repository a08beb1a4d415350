from __future__ import annotations

from django.db import models

from .workspaces import Workspace

ACTIVE = "active"
DELETED = "deleted"
LIFECYCLE_STAGES = [(ACTIVE, "active"), (DELETED, "deleted")]
DEFAULT_EXPERIMENT_NUMBER = 0
DEFAULT_EXPERIMENT_NAME = "Default"


class Experiment(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="experiments")
    # The experiment id on the wire; unique within the workspace.
    number = models.BigIntegerField()
    name = models.CharField(max_length=500)
    artifact_location = models.TextField()
    lifecycle_stage = models.CharField(max_length=7, choices=LIFECYCLE_STAGES, default=ACTIVE)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # When a write last changed its runs (epoch seconds), noted at most once a second per process:
    # what tells whether something computed over all its runs is still true (tracking.run_changes).
    runs_changed_at = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "number"], name="experiment_number_per_workspace"),
            models.UniqueConstraint(fields=["workspace", "name"], name="experiment_name_per_workspace"),
        ]
        indexes = [models.Index(fields=["workspace", "lifecycle_stage", "updated_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def experiment_id(self) -> str:
        return str(self.number)

    @property
    def is_active(self) -> bool:
        return self.lifecycle_stage == ACTIVE


class ExperimentTag(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=250)
    value = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["experiment", "key"], name="experiment_tag_key")]
