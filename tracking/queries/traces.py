"""Reading traces: one by id, many by id, a search page, and their spans; always in a workspace."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import Assessment, Experiment, Span, Trace, TraceMetadata, TraceTag, Workspace
from tracking.search.paging import cut_page, decode_offset
from tracking.search.traces import filter_traces, order_traces, parse_trace_filter

MAX_RESULTS_LIMIT = 500
MAX_BATCH_IDS = 100


@dataclass
class TraceRecord:
    trace: Trace
    tags: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    spans: list[dict[str, Any]] | None = None  # MLflow's span JSON, when asked for
    assessments: list[Assessment] = field(default_factory=list)


def find_trace(workspace: Workspace, trace_id: str) -> Trace | None:
    return Trace.objects.select_related("experiment").filter(workspace=workspace, trace_id=trace_id).first()


def get_trace(workspace: Workspace, trace_id: str) -> Trace:
    trace = find_trace(workspace, trace_id)
    if trace is None:
        raise ResourceDoesNotExist(f"Trace with ID '{trace_id}' not found.")
    return trace


def load_traces(traces: list[Trace], *, with_spans: bool = False) -> list[TraceRecord]:
    """The traces with their tags, metadata and assessments (and spans): four or five queries."""
    records = {trace.pk: TraceRecord(trace) for trace in traces}
    tags = TraceTag.objects.filter(trace_id__in=records).order_by("id")
    for trace_pk, key, value in tags.values_list("trace_id", "key", "value"):
        records[trace_pk].tags[key] = value
    metadata = TraceMetadata.objects.filter(trace_id__in=records).order_by("id")
    for trace_pk, key, value in metadata.values_list("trace_id", "key", "value"):
        records[trace_pk].metadata[key] = value
    for assessment in Assessment.objects.filter(trace_id__in=records).order_by("created_at", "id"):
        records[assessment.trace_id].assessments.append(assessment)
    if with_spans:
        for record in records.values():
            record.spans = []
        spans = Span.objects.filter(trace_id__in=records).order_by("trace_id", "start_time_ns", "id")
        for trace_pk, content in spans.values_list("trace_id", "content"):
            records[trace_pk].spans.append(json.loads(content))  # type: ignore[union-attr]
    return list(records.values())


TRACE_DATA_FILE = "traces.json"  # where a client that uploads its spans puts them
ARTIFACT_LOCATION_TAG = "mlflow.artifactLocation"


def trace_artifact_location(trace: Trace) -> str:
    """The trace's files folder (its `mlflow.artifactLocation` tag); "" when it names none."""
    return (
        TraceTag.objects.filter(trace=trace, key=ARTIFACT_LOCATION_TAG)
        .values_list("value", flat=True)
        .first()
        or ""
    )


def trace_data_spans(trace: Trace) -> list[dict[str, Any]]:
    """The trace's spans as MLflow's `Span.to_dict()` writes them (its `traces.json`), in order of
    start. Stored events keep their time as `timestamp`; the file names it `time_unix_nano`."""
    spans = []
    for content in (
        Span.objects.filter(trace=trace).order_by("start_time_ns", "id").values_list("content", flat=True)
    ):
        span = json.loads(content)
        span["events"] = [
            {
                "name": event.get("name", ""),
                "time_unix_nano": event.get("time_unix_nano", event.get("timestamp", 0)),
                "attributes": event.get("attributes") or {},
            }
            for event in span.get("events") or []
        ]
        spans.append(span)
    return spans


def trace_spans(trace: Trace) -> list[Span]:
    """A trace's span rows in order of start (a page drawing the span tree reads `parent_span_id`;
    `json.loads(span.content)` has the inputs, outputs, attributes and events)."""
    return list(Span.objects.filter(trace=trace).order_by("start_time_ns", "id"))


def traces_by_ids(
    workspace: Workspace, trace_ids: list[str], experiments: list[Experiment] | None = None
) -> list[Trace]:
    if len(trace_ids) > MAX_BATCH_IDS:
        raise InvalidParameterValue(f"At most {MAX_BATCH_IDS} trace ids may be fetched at once.")
    found = Trace.objects.select_related("experiment").filter(workspace=workspace, trace_id__in=trace_ids)
    if experiments is not None:
        found = found.filter(experiment__in=experiments)
    by_id = {trace.trace_id: trace for trace in found}
    return [by_id[trace_id] for trace_id in dict.fromkeys(trace_ids) if trace_id in by_id]


def search_traces(
    workspace: Workspace,
    experiments: list[Experiment],
    *,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
    max_results: int = 100,
    page_token: str | None = None,
) -> tuple[list[TraceRecord], str | None]:
    """A page of the experiments' traces that match the filter (MLflow's search_traces grammar),
    newest first unless `order_by` says otherwise, and the next page's token."""
    if max_results < 1 or max_results > MAX_RESULTS_LIMIT:
        raise InvalidParameterValue(
            f"Invalid value {max_results} for parameter 'max_results' supplied. It must be between 1 and "
            f"{MAX_RESULTS_LIMIT}."
        )
    offset = decode_offset(page_token)
    queryset: QuerySet = Trace.objects.select_related("experiment").filter(
        workspace=workspace, experiment__in=experiments
    )
    queryset = order_traces(filter_traces(queryset, parse_trace_filter(filter_string)), order_by)
    rows, token = cut_page(list(queryset[offset : offset + max_results + 1]), offset, max_results)
    return load_traces(rows), token
