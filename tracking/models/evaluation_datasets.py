"""MLflow 3 evaluation datasets: named sets of records (inputs, expectations) for GenAI evaluation.

A dataset belongs to a workspace and may be associated with several of that workspace's
experiments. A record is identified within its dataset by the hash of its inputs, so that
upserting the same inputs again updates the record instead of adding a second one.
"""

from __future__ import annotations

from django.db import models

from .experiments import Experiment
from .workspaces import Workspace


class EvaluationDataset(models.Model):
    dataset_id = models.CharField(max_length=36, unique=True)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="evaluation_datasets")
    name = models.CharField(max_length=255)
    # JSON texts as MLflow sends them on the wire: the columns' types inferred from the records,
    # and their statistics ({"num_records": n}); NULL until records are added.
    schema = models.TextField(null=True)
    profile = models.TextField(null=True)
    # Changes with every change of the records (a hash of the name and the update time).
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    created_by = models.CharField(max_length=255, null=True)
    last_updated_by = models.CharField(max_length=255, null=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "created_at"]),
            models.Index(fields=["workspace", "name"]),
        ]

    def __str__(self) -> str:
        return self.dataset_id


class EvaluationDatasetTag(models.Model):
    dataset = models.ForeignKey(EvaluationDataset, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=255)
    value = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "key"], name="evaluation_dataset_tag_key")]


class EvaluationDatasetExperiment(models.Model):
    """A dataset's association with an experiment of its own workspace."""

    dataset = models.ForeignKey(EvaluationDataset, on_delete=models.CASCADE, related_name="experiment_links")
    experiment = models.ForeignKey(
        Experiment, on_delete=models.CASCADE, related_name="evaluation_dataset_links"
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dataset", "experiment"], name="evaluation_dataset_experiment")
        ]


class EvaluationDatasetRecord(models.Model):
    record_id = models.CharField(max_length=36, unique=True)
    dataset = models.ForeignKey(EvaluationDataset, on_delete=models.CASCADE, related_name="records")
    # sha256 of the inputs with sorted keys: what an upsert matches records by.
    input_hash = models.CharField(max_length=64)
    inputs = models.JSONField()
    outputs = models.JSONField(null=True)
    expectations = models.JSONField(null=True)
    tags = models.JSONField(null=True)
    source = models.JSONField(null=True)  # {"source_type": "TRACE", "source_data": {...}}
    source_id = models.CharField(max_length=255, null=True)
    source_type = models.CharField(max_length=32, null=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    created_by = models.CharField(max_length=255, null=True)
    last_updated_by = models.CharField(max_length=255, null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dataset", "input_hash"], name="evaluation_dataset_record_inputs")
        ]
