"""MLflow 3 traces: one row per trace, its tags and metadata, and one row per span.

A trace belongs to an experiment (and, for scoping and uniqueness, to the experiment's workspace):
its id is the client's ("tr-<32 hex>"), unique within the workspace, so that a caller of another
workspace who sends the same id writes a trace of their own rather than into ours. Spans keep the
columns that searches filter on (name, type, status, times) and the whole span as MLflow's JSON
(`content`), which full-text search and `GetTrace` read.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import models

from .experiments import Experiment
from .workspaces import Workspace

STATE_UNSPECIFIED = "STATE_UNSPECIFIED"
OK = "OK"
ERROR = "ERROR"
IN_PROGRESS = "IN_PROGRESS"
TRACE_STATES = [STATE_UNSPECIFIED, OK, ERROR, IN_PROGRESS]

# MLflow's limits: previews are cut to 1,000 characters, tag and metadata values to 8,000.
MAX_PREVIEW_CHARS = 1000
MAX_TAG_VALUE_CHARS = 8000
MAX_SPAN_NAME_CHARS = 500


class Trace(models.Model):
    # Foreign keys without an index of their own lead the composite indexes below.
    id = models.BigAutoField(primary_key=True)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="traces", db_index=False)
    experiment = models.ForeignKey(
        Experiment, on_delete=models.CASCADE, related_name="traces", db_index=False
    )
    trace_id = models.CharField(max_length=64)
    client_request_id = models.CharField(max_length=250, null=True)
    # When the trace started (the root span's start), to the millisecond.
    request_time = models.DateTimeField()
    execution_duration_ms = models.BigIntegerField(null=True)
    # request_time + execution_duration_ms, kept by save() so that searches can compare it.
    end_time = models.DateTimeField(null=True)
    state = models.CharField(max_length=17, choices=[(s, s) for s in TRACE_STATES], default=STATE_UNSPECIFIED)
    request_preview = models.TextField(null=True)
    response_preview = models.TextField(null=True)
    # The token counts of the metadata `mlflow.trace.tokenUsage`, as numbers (MLflow's store keeps
    # them so too), so that QueryTraceMetrics sums and averages them in the database.
    input_tokens = models.BigIntegerField(null=True)
    output_tokens = models.BigIntegerField(null=True)
    total_tokens = models.BigIntegerField(null=True)
    cache_read_input_tokens = models.BigIntegerField(null=True)
    cache_creation_input_tokens = models.BigIntegerField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "trace_id"], name="trace_id_per_workspace")
        ]
        indexes = [
            # An experiment's traces newest first (the default order of SearchTraces), and the
            # deletion of its traces older than a time.
            models.Index(fields=["experiment", "-request_time", "trace_id"], name="trace_experiment_newest"),
            models.Index(fields=["experiment", "state", "-request_time"], name="trace_experiment_state"),
        ]

    def __str__(self) -> str:
        return self.trace_id

    def save(self, *args, **kwargs) -> None:
        self.end_time = (
            None
            if self.execution_duration_ms is None
            else self.request_time + timedelta(milliseconds=self.execution_duration_ms)
        )
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "end_time"}
        super().save(*args, **kwargs)


class TraceTag(models.Model):
    """A mutable key/value of a trace (its name is the tag `mlflow.traceName`)."""

    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="tags", db_index=False)
    key = models.CharField(max_length=250)
    value = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["trace", "key"], name="trace_tag_key")]
        indexes = [models.Index(fields=["key", "trace"], name="trace_tag_key_trace")]


class TraceMetadata(models.Model):
    """What the client recorded about the request (MLflow's `trace_metadata`): set once."""

    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="metadata", db_index=False)
    key = models.CharField(max_length=250)
    value = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["trace", "key"], name="trace_metadata_key")]
        indexes = [models.Index(fields=["key", "trace"], name="trace_metadata_key_trace")]


class TraceRunLink(models.Model):
    """A run a trace was linked to after the fact (LinkTracesToRun), beside the run it came from."""

    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="run_links", db_index=False)
    run_id = models.CharField(max_length=32)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["trace", "run_id"], name="trace_run_link")]
        indexes = [models.Index(fields=["run_id"], name="trace_run_link_run")]


class PendingTraceRunLink(models.Model):
    """A LinkTracesToRun naming a trace that is not here yet: MLflow's client exports traces in
    the background, so its link can arrive first. It becomes a TraceRunLink when the trace is
    created in the same workspace (MLflow's server stores such links as they come)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    trace_id = models.CharField(max_length=64)
    run_id = models.CharField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "trace_id", "run_id"], name="pending_trace_run_link")
        ]


class Span(models.Model):
    id = models.BigAutoField(primary_key=True)
    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="spans", db_index=False)
    # OpenTelemetry ids as MLflow writes them: 16 hex digits (parent: None for the root).
    span_id = models.CharField(max_length=32)
    parent_span_id = models.CharField(max_length=32, null=True)
    # The first 500 characters, for filtering; `content` has the whole name.
    name = models.CharField(max_length=MAX_SPAN_NAME_CHARS)
    span_type = models.CharField(max_length=500, null=True)
    status = models.CharField(max_length=17)
    # Epoch nanoseconds, as OpenTelemetry keeps them: a span of a few microseconds must keep
    # its length, which a millisecond or microsecond time would round away.
    start_time_ns = models.BigIntegerField()
    end_time_ns = models.BigIntegerField(null=True)
    # The span as MLflow's JSON (inputs, outputs, attributes, events): what GetTrace returns
    # and what `trace.text` / `span.content` searches read.
    content = models.TextField()
    # From the attributes `mlflow.llm.cost`, `mlflow.llm.model` and `mlflow.llm.provider`, kept
    # apart (as MLflow's store keeps them) for the cost metrics of QueryTraceMetrics.
    input_cost = models.FloatField(null=True)
    output_cost = models.FloatField(null=True)
    total_cost = models.FloatField(null=True)
    model_name = models.CharField(max_length=MAX_SPAN_NAME_CHARS, null=True)
    model_provider = models.CharField(max_length=MAX_SPAN_NAME_CHARS, null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["trace", "span_id"], name="span_id_per_trace")]
        indexes = [models.Index(fields=["trace", "name"], name="span_trace_name")]

    def __str__(self) -> str:
        return f"{self.trace_id}/{self.span_id}"


class TracePromptLink(models.Model):
    """A prompt version a trace used (LinkPromptsToTrace), by the prompt's name and version."""

    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="prompt_links", db_index=False)
    name = models.CharField(max_length=250)
    version = models.CharField(max_length=20)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["trace", "name", "version"], name="trace_prompt_link")]
        indexes = [models.Index(fields=["name", "version"], name="trace_prompt_link_version")]
