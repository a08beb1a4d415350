"""MLflow 3 issues: quality problems found in an experiment's traces, by people or by a run."""

from __future__ import annotations

import hashlib

from django.db import models

from .experiments import Experiment
from .runs import Run
from .workspaces import Workspace

# MLflow's IssueStatus and IssueSeverity values; severities from the least to the most severe.
STATUSES = ("pending", "rejected", "resolved")
SEVERITIES = ("not_an_issue", "low", "medium", "high")
PENDING = "pending"


class Issue(models.Model):
    # The issue's own workspace, beside its experiment's: a client may choose the id (MLflow 3.18),
    # and one workspace's choice must neither collide with nor reveal another workspace's ids.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="issues")
    issue_id = models.CharField(max_length=36)
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="issues")
    name = models.CharField(max_length=250)
    description = models.TextField()
    status = models.CharField(max_length=50, default=PENDING)
    severity = models.CharField(max_length=50, null=True)
    root_causes = models.JSONField(null=True)  # a list of strings
    categories = models.JSONField(null=True)  # a list of strings, as given (see IssueCategory)
    metadata = models.JSONField(null=True)  # a map of strings to strings
    # As in MLflow, the issue outlives the run that found it.
    source_run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, related_name="issues")
    created_by = models.CharField(max_length=255, null=True)
    last_updated_by = models.CharField(max_length=255, null=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # The latest time the issue was seen; None for issues made before MLflow 3.18 (read as created_at).
    last_seen_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "issue_id"], name="issue_id_per_workspace"),
        ]
        indexes = [models.Index(fields=["experiment", "status"])]

    def __str__(self) -> str:
        return self.issue_id

    @property
    def last_seen(self):
        return self.last_seen_at or self.created_at


def category_key(category: str) -> str:
    """What a category is searched by: case and surrounding spaces ignored, of fixed width
    (categories of issues made before their length was limited may be of any length)."""
    return hashlib.sha256(category.strip().lower().encode()).hexdigest()


class IssueCategory(models.Model):
    """One of an issue's categories, by its key: a search for categories is an indexed look-up."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="category_keys")
    key = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issue", "key"], name="issue_category_once")]
        indexes = [models.Index(fields=["key", "issue"])]
