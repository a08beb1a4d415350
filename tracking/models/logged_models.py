from __future__ import annotations

from django.db import models

from .experiments import ACTIVE, LIFECYCLE_STAGES, Experiment

PENDING = "LOGGED_MODEL_PENDING"
READY = "LOGGED_MODEL_READY"
UPLOAD_FAILED = "LOGGED_MODEL_UPLOAD_FAILED"
STATUSES = [(PENDING, PENDING), (READY, READY), (UPLOAD_FAILED, UPLOAD_FAILED)]


class LoggedModel(models.Model):
    """An MLflow 3 logged model: a model's files and metadata, usually produced by a run."""

    model_id = models.CharField(max_length=64, unique=True)
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="logged_models")
    name = models.CharField(max_length=500)
    model_type = models.CharField(max_length=500, blank=True, default="")
    # The run's id as the client gave it; the run may be deleted later without touching the model.
    source_run_id = models.CharField(max_length=32, blank=True, default="")
    status = models.CharField(max_length=32, choices=STATUSES, default=PENDING)
    status_message = models.TextField(blank=True, default="")
    artifact_location = models.TextField()
    lifecycle_stage = models.CharField(max_length=7, choices=LIFECYCLE_STAGES, default=ACTIVE)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["experiment", "lifecycle_stage", "created_at"]),
            models.Index(fields=["source_run_id"]),
        ]

    def __str__(self) -> str:
        return self.model_id

    @property
    def is_active(self) -> bool:
        return self.lifecycle_stage == ACTIVE


class LoggedModelTag(models.Model):
    model = models.ForeignKey(LoggedModel, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=250)
    value = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "key"], name="logged_model_tag_key")]


class LoggedModelParam(models.Model):
    model = models.ForeignKey(LoggedModel, on_delete=models.CASCADE, related_name="params")
    key = models.CharField(max_length=250)
    value = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "key"], name="logged_model_param_key")]


class LoggedModelMetric(models.Model):
    """A metric point logged with this model's id (by a run); NaN stored as NULL, as in Metric."""

    model = models.ForeignKey(LoggedModel, on_delete=models.CASCADE, related_name="metrics")
    key = models.CharField(max_length=250)
    value = models.FloatField(null=True)
    timestamp = models.BigIntegerField()
    step = models.BigIntegerField(default=0)
    run_id = models.CharField(max_length=32, blank=True, default="")
    dataset_name = models.CharField(max_length=500, null=True)
    dataset_digest = models.CharField(max_length=36, null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["model", "key", "timestamp", "step", "value", "run_id"],
                name="logged_model_metric_point",
            )
        ]
