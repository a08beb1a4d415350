"""MLflow 3 issues: quality problems found in an experiment's traces, by people or by a run."""

from __future__ import annotations

from django.db import models

from .experiments import Experiment
from .runs import Run

# MLflow's IssueStatus and IssueSeverity values; severities from the least to the most severe.
STATUSES = ("pending", "rejected", "resolved")
SEVERITIES = ("not_an_issue", "low", "medium", "high")
PENDING = "pending"


class Issue(models.Model):
    issue_id = models.CharField(max_length=36, unique=True)
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="issues")
    name = models.CharField(max_length=250)
    description = models.TextField()
    status = models.CharField(max_length=50, default=PENDING)
    severity = models.CharField(max_length=50, null=True)
    root_causes = models.JSONField(null=True)  # a list of strings
    categories = models.JSONField(null=True)  # a list of strings
    # As in MLflow, the issue outlives the run that found it.
    source_run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, related_name="issues")
    created_by = models.CharField(max_length=255, null=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["experiment", "status"])]

    def __str__(self) -> str:
        return self.issue_id
