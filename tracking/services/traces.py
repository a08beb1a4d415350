"""Writing traces: spans as they arrive (OTLP), the trace's info at its end (StartTraceV3), tags,
run links, deletion.

MLflow's client sends a trace twice: its spans by OTLP (`POST /v1/traces`) as they end, then its
info (StartTraceV3), whose values win over what the spans implied. Either may come first; both
create the trace when it is missing. The trace's spans then live here (tag
`mlflow.trace.spansLocation` = TRACKING_STORE), so the client uploads no span file; a client that
does (an older one) writes it to the trace's artifact folder through the artifact proxy.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import (
    Assessment,
    Experiment,
    PendingTraceRunLink,
    ReviewQueueItem,
    Run,
    Span,
    Trace,
    TraceMetadata,
    TracePromptLink,
    TraceRunLink,
    TraceTag,
    Workspace,
)
from tracking.models.traces import (
    ERROR,
    IN_PROGRESS,
    MAX_PREVIEW_CHARS,
    MAX_SPAN_NAME_CHARS,
    MAX_TAG_VALUE_CHARS,
    OK,
    STATE_UNSPECIFIED,
    TRACE_STATES,
)
from tracking.services.artifacts import proxy_path, workspace_store
from tracking.services.trace_usage import span_columns, token_columns
from tracking.times import MAX_MS, datetime_to_ms, ms_to_datetime

logger = logging.getLogger(__name__)

ARTIFACT_LOCATION_TAG = "mlflow.artifactLocation"
SPANS_LOCATION_TAG = "mlflow.trace.spansLocation"
TRACKING_STORE = "TRACKING_STORE"
INFO_FINALIZED = "mlflow.trace.infoFinalized"
TRACE_NAME_TAG = "mlflow.traceName"
INPUTS_ATTRIBUTE = "mlflow.spanInputs"
OUTPUTS_ATTRIBUTE = "mlflow.spanOutputs"
TRACE_TAG_PREFIX = "mlflow.traceTag."
MAX_LINKED_TRACES = 100


@dataclass
class TraceInfoInput:
    """What StartTraceV3 says of a finished trace, already parsed."""

    trace_id: str
    request_time: datetime
    execution_duration_ms: int | None
    state: str
    client_request_id: str | None = None
    request_preview: str | None = None
    response_preview: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def _artifact_location(experiment: Experiment, trace_id: str) -> str:
    return f"{experiment.artifact_location.rstrip('/')}/traces/{trace_id}/artifacts"


def _check_trace_id(trace_id: str) -> None:
    if not trace_id or len(trace_id) > 64 or not trace_id.isprintable() or "/" in trace_id:
        raise InvalidParameterValue(f"Invalid trace id {trace_id[:100]!r}.")


def _check_tag(key: str, value: str) -> None:
    if not key or len(key) > 250:
        raise InvalidParameterValue(f"Invalid tag key {key[:300]!r}: it must have 1 to 250 characters.")
    if len(value) > MAX_TAG_VALUE_CHARS:
        raise InvalidParameterValue(
            f"The value of tag '{key}' has {len(value)} characters; at most {MAX_TAG_VALUE_CHARS} are accepted."
        )


def _preview(text: str | None) -> str | None:
    return text[:MAX_PREVIEW_CHARS] if text is not None else None


def _upsert(model, trace: Trace, values: dict[str, str], *, replace: bool) -> None:
    """Tags or metadata of one trace: new keys inserted in one statement, the others updated."""
    if not values:
        return
    existing = {row.key: row for row in model.objects.filter(trace=trace, key__in=list(values))}
    model.objects.bulk_create(
        [model(trace=trace, key=key, value=value) for key, value in values.items() if key not in existing]
    )
    changed = [row for key, row in existing.items() if replace and row.value != values[key]]
    for row in changed:
        row.value = values[row.key]
    if changed:
        model.objects.bulk_update(changed, ["value"])


def _new_trace(workspace: Workspace, experiment: Experiment, trace_id: str, **fields) -> Trace:
    """The trace, created unless a concurrent writer just did (then theirs, locked)."""
    try:
        with transaction.atomic():
            trace = Trace.objects.create(
                workspace=workspace, experiment=experiment, trace_id=trace_id, **fields
            )
            _adopt_pending_run_links(trace)
            return trace
    except IntegrityError:
        return Trace.objects.select_for_update().get(workspace=workspace, trace_id=trace_id)


def _adopt_pending_run_links(trace: Trace) -> None:
    """Links to runs that LinkTracesToRun recorded before the trace arrived become its own."""
    pending = PendingTraceRunLink.objects.filter(workspace_id=trace.workspace_id, trace_id=trace.trace_id)
    run_ids = list(pending.values_list("run_id", flat=True))
    if run_ids:
        TraceRunLink.objects.bulk_create([TraceRunLink(trace=trace, run_id=run_id) for run_id in run_ids])
        pending.delete()


def _active(experiment: Experiment) -> None:
    if not experiment.is_active:
        raise InvalidParameterValue(
            f"The experiment {experiment.experiment_id} must be in the 'active' state. "
            f"Current state is {experiment.lifecycle_stage}."
        )


def start_trace(*, workspace: Workspace, experiment: Experiment, info: TraceInfoInput) -> Trace:
    """Records a finished trace's info (StartTraceV3); its values replace what spans implied."""
    _check_trace_id(info.trace_id)
    _active(experiment)
    if info.state not in TRACE_STATES:
        raise InvalidParameterValue(f"Invalid trace state {info.state!r}.")
    for key, value in {**info.tags, **info.metadata}.items():
        _check_tag(key, value)
    if info.client_request_id is not None and len(info.client_request_id) > 250:
        raise InvalidParameterValue("The client_request_id may have at most 250 characters.")
    fields = {
        "client_request_id": info.client_request_id,
        "request_time": info.request_time,
        "execution_duration_ms": info.execution_duration_ms,
        "state": info.state,
        "request_preview": _preview(info.request_preview),
        "response_preview": _preview(info.response_preview),
    }
    usage = token_columns(info.metadata)
    with transaction.atomic():
        trace = Trace.objects.select_for_update().filter(workspace=workspace, trace_id=info.trace_id).first()
        if trace is None:
            trace = _new_trace(workspace, experiment, info.trace_id, **fields)
        # The info is authoritative, its experiment included (as in MLflow's store).
        trace.experiment = experiment
        for name, value in fields.items():
            if value is not None or name in ("client_request_id", "execution_duration_ms"):
                setattr(trace, name, value)
        for name, value in usage.items():
            setattr(trace, name, value)
        trace.save()
        tags = {**info.tags, ARTIFACT_LOCATION_TAG: _artifact_location(experiment, info.trace_id)}
        _upsert(TraceTag, trace, tags, replace=True)
        _upsert(TraceMetadata, trace, {**info.metadata, INFO_FINALIZED: "true"}, replace=True)
    return trace


def start_trace_v2(
    *,
    workspace: Workspace,
    experiment: Experiment,
    request_time: datetime,
    metadata: dict[str, str],
    tags: dict[str, str],
) -> Trace:
    """MLflow 2's StartTrace: a trace begun now (IN_PROGRESS), its id made here (a uuid's hex)."""
    _active(experiment)
    for key, value in {**tags, **metadata}.items():
        _check_tag(key, value)
    trace_id = uuid.uuid4().hex
    with transaction.atomic():
        trace = Trace.objects.create(
            workspace=workspace,
            experiment=experiment,
            trace_id=trace_id,
            request_time=request_time,
            execution_duration_ms=0,
            state=IN_PROGRESS,
            **token_columns(metadata),
        )
        _upsert(
            TraceTag,
            trace,
            {**tags, ARTIFACT_LOCATION_TAG: _artifact_location(experiment, trace_id)},
            replace=True,
        )
        _upsert(TraceMetadata, trace, metadata, replace=True)
    return trace


def end_trace_v2(
    *, trace: Trace, end_time_ms: int, state: str, metadata: dict[str, str], tags: dict[str, str]
) -> Trace:
    """MLflow 2's EndTrace: the trace's length and state, its metadata and tags merged in."""
    if state not in TRACE_STATES:
        raise InvalidParameterValue(f"Invalid trace status {state!r}.")
    for key, value in {**tags, **metadata}.items():
        _check_tag(key, value)
    with transaction.atomic():
        trace.execution_duration_ms = max(0, end_time_ms - datetime_to_ms(trace.request_time))
        trace.state = state
        usage = token_columns(metadata)
        for name, value in usage.items():
            setattr(trace, name, value)
        trace.save(update_fields=["execution_duration_ms", "state", *usage])
        _upsert(TraceTag, trace, tags, replace=True)
        _upsert(TraceMetadata, trace, metadata, replace=True)
    return trace


@dataclass
class SpanRecord:
    """A span as MLflow stores it, whichever way it came (OTLP, or a client's span file)."""

    trace_id: str  # MLflow's: "tr-" + the OpenTelemetry trace id in hex
    span_id: str  # 16 hex digits
    parent_span_id: str | None
    name: str
    span_type: str | None
    status: str  # "OK" | "ERROR" | "UNSET"
    start_time_ns: int
    end_time_ns: int | None
    content: dict[str, Any]  # MLflow's span JSON
    resource: dict[str, Any] = field(default_factory=dict)

    @property
    def attributes(self) -> dict[str, str]:
        return self.content["attributes"]


def log_spans(*, workspace: Workspace, experiment: Experiment, spans: list[SpanRecord]) -> int:
    """Stores spans of one or more traces of the experiment.

    1. Each missing trace is created from its spans: start and length from the spans' times, its
       state from the root span's status (IN_PROGRESS until the root span arrives).
    2. The spans replace any stored span of the same id (a client may send one twice).
    3. A trace whose info did not come yet (StartTraceV3) takes its times, state and previews
       from its spans; every trace is marked as keeping its spans here.
    """
    _active(experiment)
    by_trace: dict[str, list] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id, []).append(span)
    with transaction.atomic():
        traces = {
            trace.trace_id: trace
            for trace in Trace.objects.select_for_update(of=("self",))
            .select_related("experiment")
            .filter(workspace=workspace, trace_id__in=list(by_trace))
        }
        for trace_id, trace_spans in by_trace.items():
            trace = traces.get(trace_id)
            if trace is None:
                traces[trace_id] = _new_trace(
                    workspace,
                    experiment,
                    trace_id,
                    request_time=_ns_to_datetime(min(s.start_time_ns for s in trace_spans)),
                    state=IN_PROGRESS,
                )
        trace_pks = {trace_id: traces[trace_id].pk for trace_id in by_trace}
        stale = [(trace_pks[s.trace_id], s.span_id) for s in spans]
        _delete_spans(stale)
        Span.objects.bulk_create(
            [
                Span(
                    trace_id=trace_pks[s.trace_id],
                    span_id=s.span_id,
                    parent_span_id=s.parent_span_id,
                    name=s.name[:MAX_SPAN_NAME_CHARS],
                    span_type=(s.span_type or "")[:500] or None,
                    status=s.status,
                    start_time_ns=s.start_time_ns,
                    end_time_ns=s.end_time_ns,
                    content=json.dumps(s.content, ensure_ascii=False),
                    **span_columns(s.attributes),
                )
                for s in _last_of_each(spans)
            ]
        )
        finalized = set(
            TraceMetadata.objects.filter(trace_id__in=trace_pks.values(), key=INFO_FINALIZED).values_list(
                "trace_id", flat=True
            )
        )
        for trace_id, trace_spans in by_trace.items():
            trace = traces[trace_id]
            # Spans of a known trace join it in its own experiment, whichever the sender named.
            tags = {
                SPANS_LOCATION_TAG: TRACKING_STORE,
                ARTIFACT_LOCATION_TAG: _artifact_location(trace.experiment, trace_id),
            }
            _upsert(TraceTag, trace, tags, replace=True)
            _upsert(TraceTag, trace, _tags_from_spans(trace_spans), replace=False)
            if trace.pk not in finalized:
                _update_from_spans(trace, trace_spans)
    return len(spans)


def _last_of_each(spans: list) -> list:
    return list({(s.trace_id, s.span_id): s for s in spans}.values())


def _delete_spans(keys: list[tuple[int, str]]) -> None:
    by_trace: dict[int, list[str]] = {}
    for trace_pk, span_id in keys:
        by_trace.setdefault(trace_pk, []).append(span_id)
    for trace_pk, span_ids in by_trace.items():
        Span.objects.filter(trace_id=trace_pk, span_id__in=span_ids).delete()


def _ns_to_datetime(nanoseconds: int) -> datetime:
    return ms_to_datetime(max(0, nanoseconds // 1_000_000), "start_time_unix_nano")


def _tags_from_spans(spans: list) -> dict[str, str]:
    tags: dict[str, str] = {}
    for span in spans:
        if span.parent_span_id is not None:
            continue
        for key, value in span.attributes.items():
            if key.startswith(TRACE_TAG_PREFIX) and len(key) > len(TRACE_TAG_PREFIX):
                tags[key[len(TRACE_TAG_PREFIX) :][:250]] = str(_loaded(value))[:MAX_TAG_VALUE_CHARS]
        for key, value in span.resource.items():
            if not key.startswith(("telemetry.sdk.", "mlflow.")) and key:
                text = value if isinstance(value, str) else json.dumps(value)
                tags.setdefault(key[:250], text[:MAX_TAG_VALUE_CHARS])
        tags.setdefault(TRACE_NAME_TAG, span.name[:MAX_TAG_VALUE_CHARS])
    # Values from a sender's attributes: none may hold NUL, which no database column can.
    return {key: value for key, value in tags.items() if "\x00" not in key + value}


def _loaded(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _update_from_spans(trace: Trace, spans: list) -> None:
    start_ns = min(s.start_time_ns for s in spans)
    end_times = [s.end_time_ns for s in spans if s.end_time_ns]
    start = _ns_to_datetime(start_ns)
    end_ms = None
    if trace.execution_duration_ms is not None:
        end_ms = trace.request_time.timestamp() * 1000 + trace.execution_duration_ms
    if end_times:
        end_ms = max(end_ms or 0, max(end_times) // 1_000_000)
    if start < trace.request_time:
        trace.request_time = start
    if end_ms is not None:
        trace.execution_duration_ms = max(0, int(end_ms - trace.request_time.timestamp() * 1000))
    root = next((s for s in spans if s.parent_span_id is None), None)
    if root is not None:
        if trace.state in (IN_PROGRESS, STATE_UNSPECIFIED):
            trace.state = ERROR if root.status == "ERROR" else OK
        if trace.request_preview is None and root.attributes.get(INPUTS_ATTRIBUTE):
            trace.request_preview = _preview(root.attributes[INPUTS_ATTRIBUTE])
        if trace.response_preview is None and root.attributes.get(OUTPUTS_ATTRIBUTE):
            trace.response_preview = _preview(root.attributes[OUTPUTS_ATTRIBUTE])
    trace.save()


def set_trace_tag(*, trace: Trace, key: str, value: str) -> None:
    _check_tag(key, value)
    with transaction.atomic():
        _upsert(TraceTag, trace, {key: value}, replace=True)


def delete_trace_tag(*, trace: Trace, key: str) -> None:
    deleted, _ = TraceTag.objects.filter(trace=trace, key=key).delete()
    if not deleted:
        raise ResourceDoesNotExist(f"No trace tag with key '{key}' for trace with ID '{trace.trace_id}'")


def link_traces_to_run(*, workspace: Workspace, trace_ids: list[str], run: Run) -> None:
    if len(trace_ids) > MAX_LINKED_TRACES:
        raise InvalidParameterValue(
            f"Cannot link more than {MAX_LINKED_TRACES} traces to a run in a single request. "
            f"Provided {len(trace_ids)} traces."
        )
    traces = list(Trace.objects.filter(workspace=workspace, trace_id__in=trace_ids).only("pk", "trace_id"))
    with transaction.atomic():
        linked = set(
            TraceRunLink.objects.filter(trace__in=traces, run_id=run.uuid).values_list("trace_id", flat=True)
        )
        TraceRunLink.objects.bulk_create(
            [TraceRunLink(trace=trace, run_id=run.uuid) for trace in traces if trace.pk not in linked]
        )
        # Traces still on their way (the client exports in the background) are linked on arrival.
        arrived = {trace.trace_id for trace in traces}
        PendingTraceRunLink.objects.bulk_create(
            [
                PendingTraceRunLink(workspace=workspace, trace_id=trace_id, run_id=run.uuid)
                for trace_id in dict.fromkeys(trace_ids)
                if trace_id not in arrived and len(trace_id) <= 64  # longer is no trace's id
            ],
            ignore_conflicts=True,
        )


def link_prompts_to_trace(*, trace: Trace, prompt_versions: list[tuple[str, str]]) -> None:
    """Records that the trace used these prompt versions ((name, version), the version a number);
    one already linked is not linked twice."""
    for name, version in prompt_versions:
        if not name or len(name) > 250:
            raise InvalidParameterValue(f"Invalid prompt name {name[:300]!r}.")
        if not version.isdigit() or len(version) > 20:
            raise InvalidParameterValue(f"Invalid prompt version {version[:100]!r}: expected a number.")
    wanted = {(name, str(int(version))) for name, version in prompt_versions}
    with transaction.atomic():
        linked = set(TracePromptLink.objects.filter(trace=trace).values_list("name", "version"))
        TracePromptLink.objects.bulk_create(
            [
                TracePromptLink(trace=trace, name=name, version=version)
                for name, version in sorted(wanted - linked)
            ],
            ignore_conflicts=True,
        )


def delete_traces(
    *,
    workspace: Workspace,
    experiment: Experiment,
    trace_ids: list[str] | None = None,
    max_timestamp_millis: int | None = None,
    max_traces: int | None = None,
) -> int:
    """Deletes traces by id, or the oldest up to a time (at most `max_traces` of them), with
    their spans and files. Returns how many were deleted."""
    if trace_ids:
        if max_timestamp_millis is not None or max_traces is not None:
            raise InvalidParameterValue(
                "Only one of `max_timestamp_millis` and `trace_ids` can be specified."
            )
        doomed = Trace.objects.filter(workspace=workspace, experiment=experiment, trace_id__in=trace_ids)
    else:
        if max_timestamp_millis is None:
            raise InvalidParameterValue("Either `max_timestamp_millis` or `trace_ids` must be specified.")
        if max_traces is not None and max_traces <= 0:
            raise InvalidParameterValue(
                f"Invalid value {max_traces} for parameter 'max_traces': must be positive."
            )
        doomed = Trace.objects.filter(
            workspace=workspace,
            experiment=experiment,
            # A bound, not a stored time: any int64 is fine, clamped to the times we can store.
            request_time__lte=ms_to_datetime(min(max(0, max_timestamp_millis), MAX_MS)),
        ).order_by("request_time", "id")
        if max_traces is not None:
            doomed = doomed[:max_traces]
    rows = list(doomed.values_list("pk", "trace_id"))
    return purge_traces(experiment=experiment, traces=rows)


def purge_traces(*, experiment: Experiment, traces: list[tuple[int, str]]) -> int:
    """Removes traces (pk, trace_id) of one experiment: their files first, then their rows."""
    if not traces:
        return 0
    pks = [pk for pk, _ in traces]
    locations = dict(
        TraceTag.objects.filter(trace_id__in=pks, key=ARTIFACT_LOCATION_TAG).values_list("trace_id", "value")
    )
    files = workspace_store(experiment.workspace)
    for pk, trace_id in traces:
        folder = trace_files_folder(locations.get(pk, ""), trace_id)
        if folder is not None:
            files.delete(folder)
    with transaction.atomic():
        delete_trace_rows(pks)
    return len(pks)


def delete_trace_rows(pks: list[int]) -> tuple[int, dict[str, int]]:
    """The traces' rows, each table in one statement (spans first: a trace may have thousands)."""
    for model in (Span, Assessment, TraceTag, TraceMetadata, TraceRunLink, TracePromptLink, ReviewQueueItem):
        model.objects.filter(trace_id__in=pks).delete()
    return Trace.objects.filter(pk__in=pks).delete()


def trace_files_folder(artifact_location: str, trace_id: str) -> str | None:
    """The folder of a trace's files in its workspace's store (`<experiment>/traces/<id>`), when
    its artifact location is served by us and names it; None for files elsewhere (not ours)."""
    path = proxy_path(artifact_location)
    if not path or trace_id not in path.split("/"):
        return None
    head, _, tail = path.rpartition("/")
    return head if tail == "artifacts" and head.endswith(trace_id) else path
