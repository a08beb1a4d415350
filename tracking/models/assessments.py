"""Assessments of traces (MLflow 3): feedback (a judgement, by a human, code or an LLM judge) and
expectations (the ground truth), each on a trace or one of its spans; and issue references, MLflow's
link of a trace to an issue (named by the issue's id, valued {"issue_name": ...}), which make an
issue's trace count.

An assessment may override another of its trace (`overrides`): the overridden one is then kept,
marked invalid, and comes back to life when its overrider is deleted. Values are kept as MLflow
keeps them, JSON text, beside `aggregate_value` (the value as a number when it is one, booleans
and "yes"/"no" as 1 and 0) so that searches and trace metrics compare and average in the
database.
"""

from __future__ import annotations

from django.db import models

from .traces import Trace

FEEDBACK = "feedback"
EXPECTATION = "expectation"
ISSUE = "issue"
ASSESSMENT_TYPES = [FEEDBACK, EXPECTATION, ISSUE]
SOURCE_TYPES = ["SOURCE_TYPE_UNSPECIFIED", "HUMAN", "LLM_JUDGE", "CODE"]


class Assessment(models.Model):
    id = models.BigAutoField(primary_key=True)
    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="assessments", db_index=False)
    # "a-<32 hex>", made here; unique within its trace (and in practice everywhere).
    assessment_id = models.CharField(max_length=50)
    name = models.CharField(max_length=250)
    assessment_type = models.CharField(max_length=20, choices=[(t, t) for t in ASSESSMENT_TYPES])
    value = models.TextField()  # JSON
    error = models.TextField(null=True)  # JSON: {"error_code", "error_message", "stack_trace"}
    aggregate_value = models.FloatField(null=True)
    is_numeric_value = models.BooleanField(default=False)
    source_type = models.CharField(max_length=50)
    source_id = models.CharField(max_length=250, null=True)
    run_id = models.CharField(max_length=32, null=True)
    span_id = models.CharField(max_length=50, null=True)
    rationale = models.TextField(null=True)
    overrides = models.CharField(max_length=50, null=True)
    valid = models.BooleanField(default=True)
    metadata = models.TextField(null=True)  # JSON object of strings
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["trace", "assessment_id"], name="assessment_id_per_trace")
        ]
        indexes = [
            # A search by name (feedback.<name>) asks each trace for its assessments of the name:
            # led by the trace, so that the database looks up, not scans, for each trace.
            models.Index(fields=["trace", "name", "assessment_type"], name="assessment_trace_name"),
            # An issue's traces (SearchIssues' trace counts, `issue.id = ...`): looked up by name.
            models.Index(fields=["name", "assessment_type", "trace"], name="assessment_name_type"),
        ]

    def __str__(self) -> str:
        return f"{self.assessment_type} {self.name} ({self.assessment_id})"
