"""MLflow 3 label schemas: the questions a reviewer answers about a trace (pass/fail, a choice among
options, a number, free text), per experiment.

A schema is a hint for the review UI: its name is the key of the assessments reviewers write, and
nothing checks those assessments against it. Every experiment has one protected default question
("Feedback", free text), made the first time its schemas are listed, as MLflow's server makes it.
"""

from __future__ import annotations

from django.db import models

from .experiments import Experiment

FEEDBACK = "feedback"
EXPECTATION = "expectation"
SCHEMA_TYPES = (FEEDBACK, EXPECTATION)
# The input widgets MLflow's tracking store keeps (its Databricks-only ones have no wire form).
INPUT_TYPES = ("pass_fail", "categorical", "numeric", "text")


class LabelSchema(models.Model):
    schema_id = models.CharField(max_length=36, unique=True)  # "ls-<32 hex>"
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="label_schemas")
    name = models.CharField(max_length=250)
    schema_type = models.CharField(max_length=16, choices=[(t, t) for t in SCHEMA_TYPES])
    instruction = models.TextField(null=True)
    enable_comment = models.BooleanField(default=False)
    input_type = models.CharField(max_length=32, choices=[(t, t) for t in INPUT_TYPES])
    # The widget's settings, e.g. {"options": [...], "multi_select": false}; finite numbers only.
    input_config = models.JSONField()
    created_by = models.CharField(max_length=255, null=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    is_default = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name"], name="label_schema_name_per_experiment")
        ]

    def __str__(self) -> str:
        return self.name
