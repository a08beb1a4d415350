"""MLflow 2's trace RPCs (StartTrace, EndTrace, GetTraceInfo, SearchTraces): what a client older
than 3.3 sends, and what a newer one falls back to on a server without the v3 ones."""

from __future__ import annotations

from typing import Any

from tracking.errors import InvalidParameterValue
from tracking.queries import experiments as experiment_queries
from tracking.queries import traces as queries
from tracking.queries.traces import TraceRecord
from tracking.services import traces as services
from tracking.times import datetime_to_ms, ms_to_datetime

from ..router import ApiCall, rpc
from .traces import search_page

# MLflow 2's TraceStatus spells "unspecified" its own way.
_V2_STATUS = {"STATE_UNSPECIFIED": "TRACE_STATUS_UNSPECIFIED"}
_V3_STATE = {v2: v3 for v3, v2 in _V2_STATUS.items()}


def trace_info_v2_json(record: TraceRecord) -> dict[str, Any]:
    trace = record.trace
    info: dict[str, Any] = {
        "request_id": trace.trace_id,
        "experiment_id": trace.experiment.experiment_id,
        "timestamp_ms": datetime_to_ms(trace.request_time),
        "execution_time_ms": trace.execution_duration_ms or 0,
        "status": _V2_STATUS.get(trace.state, trace.state),
    }
    # Empty lists are left out, as protobuf's JSON leaves them.
    if record.metadata:
        info["request_metadata"] = [{"key": k, "value": v} for k, v in record.metadata.items()]
    if record.tags:
        info["tags"] = [{"key": k, "value": v} for k, v in record.tags.items()]
    return info


def _pairs(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {item.get("key", ""): item.get("value", "") for item in items or []}


def _timestamp(call: ApiCall) -> int:
    timestamp = call.message.get("timestamp_ms")
    if timestamp is None:
        raise InvalidParameterValue("Missing value for required parameter 'timestamp_ms'.")
    return timestamp


@rpc("mlflow.StartTrace")
def start_trace(call: ApiCall) -> dict[str, Any]:
    experiment = experiment_queries.get_experiment(call.workspace, call.message.get("experiment_id") or "")
    trace = services.start_trace_v2(
        workspace=call.workspace,
        experiment=experiment,
        request_time=ms_to_datetime(_timestamp(call), "timestamp_ms"),
        metadata=_pairs(call.message.get("request_metadata")),
        tags=_pairs(call.message.get("tags")),
    )
    return {"trace_info": trace_info_v2_json(queries.load_traces([trace])[0])}


@rpc("mlflow.EndTrace")
def end_trace(call: ApiCall) -> dict[str, Any]:
    trace = queries.get_trace(call.workspace, call.message.get("request_id") or "")
    status = call.message.get("status") or "TRACE_STATUS_UNSPECIFIED"
    services.end_trace_v2(
        trace=trace,
        end_time_ms=_timestamp(call),
        state=_V3_STATE.get(status, status),
        metadata=_pairs(call.message.get("request_metadata")),
        tags=_pairs(call.message.get("tags")),
    )
    return {"trace_info": trace_info_v2_json(queries.load_traces([trace])[0])}


@rpc("mlflow.GetTraceInfo")
def get_trace_info(call: ApiCall) -> dict[str, Any]:
    trace = queries.get_trace(call.workspace, call.message.get("request_id") or "")
    return {"trace_info": trace_info_v2_json(queries.load_traces([trace])[0])}


@rpc("mlflow.SearchTraces")
def search_traces(call: ApiCall) -> dict[str, Any]:
    message = call.message
    experiments = [
        experiment_queries.get_experiment(call.workspace, i) for i in message.get("experiment_ids") or []
    ]
    if not experiments:
        raise InvalidParameterValue("Missing value for required parameter 'experiment_ids'.")
    return search_page(call, experiments, trace_info_v2_json)
