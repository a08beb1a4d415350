"""MLflow 3 tracing: the trace RPCs (v3, and the v2 tag RPCs the client still calls) and OTLP
span ingestion at /v1/traces."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpResponse

from tracking.errors import InvalidParameterValue, RequestTooLarge, ResourceDoesNotExist
from tracking.models import Trace
from tracking.queries import experiments as experiment_queries
from tracking.queries import runs as run_queries
from tracking.queries import traces as queries
from tracking.queries.traces import TraceRecord
from tracking.services import traces as services

from ..otlp import Unprocessable, otel_span_json, read_export_request
from ..router import ApiCall, outside_api_route, rpc
from ..timestamps import parse_wire_timestamp, wire_timestamp
from .assessments import assessment_json

EXPERIMENT_ID_HEADER = "X-Mlflow-Experiment-Id"
RUN_ID_HEADER = "X-Mlflow-Run-Id"
OTLP_RPC = "opentelemetry.ExportTraceServiceRequest"
outside_api_route("POST", "v1/traces", OTLP_RPC)


# -- shapes --------------------------------------------------------------------------------------


def _duration(milliseconds: int) -> str:
    seconds, millis = divmod(milliseconds, 1000)
    return f"{seconds}.{millis:03d}s" if millis else f"{seconds}s"


def trace_info_json(record: TraceRecord) -> dict[str, Any]:
    trace = record.trace
    info: dict[str, Any] = {
        "trace_id": trace.trace_id,
        "trace_location": {
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": trace.experiment.experiment_id},
        },
        "request_time": wire_timestamp(trace.request_time),
    }
    if trace.client_request_id is not None:
        info["client_request_id"] = trace.client_request_id
    if trace.execution_duration_ms is not None:
        info["execution_duration"] = _duration(trace.execution_duration_ms)
    info["state"] = trace.state
    if record.metadata:
        info["trace_metadata"] = record.metadata
    if record.assessments:
        for assessment in record.assessments:
            assessment.trace = trace
        info["assessments"] = [assessment_json(assessment) for assessment in record.assessments]
    if record.tags:
        info["tags"] = record.tags
    if trace.request_preview is not None:
        info["request_preview"] = trace.request_preview
    if trace.response_preview is not None:
        info["response_preview"] = trace.response_preview
    return info


def _trace_json(record: TraceRecord) -> dict[str, Any]:
    shaped: dict[str, Any] = {"trace_info": trace_info_json(record)}
    if record.spans:
        shaped["spans"] = [otel_span_json(span) for span in record.spans]
    return shaped


# -- parsing -------------------------------------------------------------------------------------

_DURATION = re.compile(r"(-?\d{1,12})(?:\.(\d{1,9}))?s")


def _parse_duration(value: Any) -> int | None:
    if value is None:
        return None
    found = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if found is None or found[1].startswith("-"):
        raise InvalidParameterValue(f"Invalid value {str(value)[:100]!r} for parameter 'execution_duration'.")
    return int(found[1]) * 1000 + int((found[2] or "0")[:3].ljust(3, "0"))


def _string_map(value: Any, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, list):  # proto JSON of a map may also come as [{"key":..,"value":..}]
        value = {item.get("key"): item.get("value") for item in value if isinstance(item, dict)}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidParameterValue(f"Invalid value for parameter '{name}': expected a map of strings.")
    return value


def _experiment_of(call: ApiCall, location: Any):
    experiment_id = ((location or {}).get("mlflow_experiment") or {}).get("experiment_id")
    if not experiment_id:
        raise InvalidParameterValue("The trace's trace_location must name an MLflow experiment.")
    return experiment_queries.get_experiment(call.workspace, experiment_id)


def _addressed_trace(call: ApiCall) -> Trace:
    # v3 paths name it trace_id, v2 paths request_id.
    trace_id = call.message.get("trace_id") or call.message.get("request_id") or ""
    return queries.get_trace(call.workspace, trace_id)


# -- RPCs ----------------------------------------------------------------------------------------


@rpc("mlflow.StartTraceV3")
def start_trace_v3(call: ApiCall) -> dict[str, Any]:
    info = (call.message.get("trace") or {}).get("trace_info") or {}
    experiment = _experiment_of(call, info.get("trace_location"))
    if "request_time" not in info:
        raise InvalidParameterValue("Missing value for required parameter 'trace.trace_info.request_time'.")
    trace = services.start_trace(
        workspace=call.workspace,
        experiment=experiment,
        info=services.TraceInfoInput(
            trace_id=info.get("trace_id") or "",
            request_time=parse_wire_timestamp(info["request_time"]),
            execution_duration_ms=_parse_duration(info.get("execution_duration")),
            state=info.get("state") or "STATE_UNSPECIFIED",
            client_request_id=info.get("client_request_id"),
            request_preview=info.get("request_preview"),
            response_preview=info.get("response_preview"),
            metadata=_string_map(info.get("trace_metadata"), "trace_metadata"),
            tags=_string_map(info.get("tags"), "tags"),
        ),
    )
    return {"trace": {"trace_info": trace_info_json(queries.load_traces([trace])[0])}}


@rpc("mlflow.GetTraceInfoV3")
def get_trace_info_v3(call: ApiCall) -> dict[str, Any]:
    return {"trace": {"trace_info": trace_info_json(queries.load_traces([_addressed_trace(call)])[0])}}


@rpc("mlflow.GetTrace")
def get_trace(call: ApiCall) -> dict[str, Any]:
    trace_id = call.message["trace_id"]
    trace = queries.find_trace(call.workspace, trace_id)
    if trace is None:  # worded as MLflow's server words it here
        raise ResourceDoesNotExist(f"Trace with ID {trace_id} is not found.")
    return {"trace": _trace_json(queries.load_traces([trace], with_spans=True)[0])}


def _scoped_experiments(call: ApiCall) -> list | None:
    ids = call.message.get("experiment_ids") or []
    return [experiment_queries.get_experiment(call.workspace, i) for i in ids] if ids else None


@rpc("mlflow.BatchGetTraces")
def batch_get_traces(call: ApiCall) -> dict[str, Any]:
    traces = queries.traces_by_ids(
        call.workspace, call.message.get("trace_ids") or [], _scoped_experiments(call)
    )
    return {"traces": [_trace_json(record) for record in queries.load_traces(traces, with_spans=True)]}


@rpc("mlflow.BatchGetTraceInfos")
def batch_get_trace_infos(call: ApiCall) -> dict[str, Any]:
    traces = queries.traces_by_ids(
        call.workspace, call.message.get("trace_ids") or [], _scoped_experiments(call)
    )
    return {"trace_infos": [trace_info_json(record) for record in queries.load_traces(traces)]}


def search_page(call: ApiCall, experiments: list, shape: Callable[[TraceRecord], dict]) -> dict[str, Any]:
    """A page of SearchTraces (either version), each trace shaped by `shape`."""
    message = call.message
    records, token = queries.search_traces(
        call.workspace,
        experiments,
        filter_string=message.get("filter"),
        order_by=message.get("order_by"),
        max_results=message.get("max_results", 100),
        page_token=message.get("page_token"),
    )
    response: dict[str, Any] = {"traces": [shape(record) for record in records]}
    if token:
        response["next_page_token"] = token
    return response


@rpc("mlflow.SearchTracesV3")
def search_traces_v3(call: ApiCall) -> dict[str, Any]:
    experiments = [_experiment_of(call, location) for location in call.message.get("locations") or []]
    if not experiments:
        raise InvalidParameterValue("At least one location (an experiment) must be specified.")
    return search_page(call, experiments, trace_info_json)


@rpc("mlflow.SetTraceTag")
@rpc("mlflow.SetTraceTagV3")
def set_trace_tag(call: ApiCall) -> dict[str, Any]:
    key, value = call.message.get("key"), call.message.get("value")
    if not key:
        raise InvalidParameterValue("Missing value for required parameter 'key'.")
    if value is None:
        raise InvalidParameterValue("Missing value for required parameter 'value'.")
    services.set_trace_tag(trace=_addressed_trace(call), key=key, value=value)
    return {}


@rpc("mlflow.DeleteTraceTag")
@rpc("mlflow.DeleteTraceTagV3")
def delete_trace_tag(call: ApiCall) -> dict[str, Any]:
    key = call.message.get("key")
    if not key:
        raise InvalidParameterValue("Missing value for required parameter 'key'.")
    services.delete_trace_tag(trace=_addressed_trace(call), key=key)
    return {}


@rpc("mlflow.DeleteTraces")
@rpc("mlflow.DeleteTracesV3")
def delete_traces(call: ApiCall) -> dict[str, Any]:
    message = call.message
    deleted = services.delete_traces(
        workspace=call.workspace,
        experiment=experiment_queries.get_experiment(call.workspace, message["experiment_id"]),
        trace_ids=message.get("request_ids") or None,
        max_timestamp_millis=message.get("max_timestamp_millis"),
        max_traces=message.get("max_traces"),
    )
    return {"traces_deleted": deleted}


@rpc("mlflow.LinkTracesToRun")
def link_traces_to_run(call: ApiCall) -> dict[str, Any]:
    run = run_queries.get_run(call.workspace, call.message["run_id"])
    services.link_traces_to_run(
        workspace=call.workspace, trace_ids=call.message.get("trace_ids") or [], run=run
    )
    return {}


@rpc("mlflow.LinkPromptsToTrace")
def link_prompts_to_trace(call: ApiCall) -> dict[str, Any]:
    trace_id = call.message["trace_id"]
    versions = call.message.get("prompt_versions") or []
    if not versions:  # nothing to link: MLflow's server does not look for the trace either
        return {}
    trace = queries.find_trace(call.workspace, trace_id)
    if trace is None:
        raise ResourceDoesNotExist(f"Trace with ID '{trace_id}' not found.")
    services.link_prompts_to_trace(
        trace=trace, prompt_versions=[(item["name"], item["version"]) for item in versions]
    )
    return {}


# -- OTLP ----------------------------------------------------------------------------------------


@rpc(OTLP_RPC, raw=True)
def export_traces(call: ApiCall) -> HttpResponse:
    """OTLP/HTTP: spans of an experiment named by the X-Mlflow-Experiment-Id header; the answer is
    an empty ExportTraceServiceResponse, as MLflow's server gives."""
    request = call.request
    experiment_id = request.headers.get(EXPERIMENT_ID_HEADER)
    if not experiment_id:
        raise Unprocessable(f"Missing required header {EXPERIMENT_ID_HEADER}.")
    experiment = experiment_queries.get_experiment(call.workspace, experiment_id)
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > settings.TRACKING_MAX_REQUEST_BYTES:
        raise RequestTooLarge(
            f"The request body has {length} bytes; this server accepts at most "
            f"{settings.TRACKING_MAX_REQUEST_BYTES} (STUDIO_MAX_REQUEST_BYTES)."
        )
    spans = read_export_request(
        request.body, request.content_type or "", request.headers.get("Content-Encoding", "")
    )
    services.log_spans(workspace=call.workspace, experiment=experiment, spans=spans)
    run_id = request.headers.get(RUN_ID_HEADER)
    finished = [span.trace_id for span in spans if span.parent_span_id is None]
    if run_id and finished:
        # As MLflow's server: the spans are kept even when the run named is not there.
        with contextlib.suppress(ResourceDoesNotExist, InvalidParameterValue):
            run = run_queries.get_run(call.workspace, run_id)
            services.link_traces_to_run(workspace=call.workspace, trace_ids=finished[:100], run=run)
    return HttpResponse(b"", content_type="application/x-protobuf")
