"""Routes MLflow's web UI calls that no .proto declares (MLflow's server adds them by hand):
bulk metric histories, dataset summaries, prompt-engineering runs, small uploads and downloads
of a run's or a logged model's files, the prompt lab's gateway proxy. Each is checked like an
RPC, by the name it registers.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from django.http import HttpResponse

from tracking.artifacts import clean_path
from tracking.errors import BadRequest, InvalidParameterValue, RequestTooLarge
from tracking.queries import datasets as dataset_queries
from tracking.queries import experiments as experiment_queries
from tracking.queries import gateway as gateway_queries
from tracking.queries import logged_models as model_queries
from tracking.queries import metrics as metric_queries
from tracking.queries import runs as run_queries
from tracking.queries import traces as trace_queries
from tracking.services import artifacts, promptlab
from tracking.times import ms_to_datetime

from ..downloads import bytes_response
from ..gateway_invocations import unreachable
from ..protocol import read_json_body
from ..router import ApiCall, extra_route, rpc
from ..shapes import run_message
from ..wire import double
from .artifacts import send_artifact_under, upload_stream

extra_route("GET", "/mlflow/metrics/get-history-bulk", 2, "mlflow.ui.GetMetricHistoryBulk")
extra_route("POST", "/mlflow/runs/create-promptlab-run", 2, "mlflow.ui.CreatePromptlabRun")
extra_route("POST", "/mlflow/upload-artifact", 2, "mlflow.ui.UploadArtifact")
extra_route("GET", "/mlflow/logged-models/{model_id}/artifacts/files", 2, "mlflow.ui.GetLoggedModelArtifact")
extra_route("GET", "/get-artifact", None, "mlflow.ui.GetArtifact")
extra_route("GET", "/mlflow/get-trace-artifact", 2, "mlflow.ui.GetTraceArtifact")
extra_route("GET", "/mlflow/gateway-proxy", 2, "mlflow.ui.ListGatewayProxyEndpoints")
extra_route("POST", "/mlflow/gateway-proxy", 2, "mlflow.ui.InvokeGatewayProxyEndpoint")

# MLflow's UI uploads small files (images of an evaluation) through its server: 10 MB at most.
MAX_UI_UPLOAD_BYTES = 10 * 1024 * 1024


def _int_arg(call: ApiCall, name: str, default: int) -> int:
    raw = call.request.GET.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidParameterValue(
            f"Invalid value '{raw[:100]}' for parameter '{name}': an integer is expected."
        ) from None


@rpc("mlflow.ui.GetMetricHistoryBulk")
def get_metric_history_bulk(call: ApiCall) -> dict[str, Any]:
    key = call.request.GET.get("metric_key")
    rows = metric_queries.get_metric_history_bulk(
        call.workspace,
        call.request.GET.getlist("run_id"),
        key,
        max_results=_int_arg(call, "max_results", metric_queries.MAX_HISTORY_PAGE),
    )
    return {
        "metrics": [
            {"key": key, "value": double(value), "timestamp": timestamp, "step": step, "run_id": run_id}
            for run_id, value, timestamp, step in rows
        ]
    }


@rpc("mlflow.SearchDatasets")
def search_datasets(call: ApiCall) -> dict[str, Any]:
    summaries = dataset_queries.search_datasets(call.workspace, call.message.get("experiment_ids", []))
    if not summaries:
        return {}
    return {
        "dataset_summaries": [
            {"experiment_id": s.experiment_id, "name": s.name, "digest": s.digest}
            | ({"context": s.context} if s.context else {})
            for s in summaries
        ]
    }


def _required(body: dict[str, Any], name: str) -> Any:
    value = body.get(name)
    if not value:
        raise InvalidParameterValue(f"CreatePromptlabRun request must specify {name}.")
    return value


def _key_values(body: dict[str, Any], name: str) -> list[tuple[str, str]]:
    entries = body.get(name) or []
    if not isinstance(entries, list) or not all(
        isinstance(entry, dict) and isinstance(entry.get("key"), str) for entry in entries
    ):
        raise InvalidParameterValue(f'\'{name}\' must be a list of {{"key", "value"}} objects.')
    return [(entry["key"], str(entry.get("value", ""))) for entry in entries]


def _text(body: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = _required(body, name) if required else body.get(name) or ""
    if not isinstance(value, str):
        raise InvalidParameterValue(f"'{name}' must be a string.")
    return value


@rpc("mlflow.ui.CreatePromptlabRun")
def create_promptlab_run(call: ApiCall) -> dict[str, Any]:
    body = read_json_body(call.request)
    experiment_id = _required(body, "experiment_id")
    prompt_template = _text(body, "prompt_template")
    _required(body, "prompt_parameters")
    prompt_parameters = _key_values(body, "prompt_parameters")
    model_route = _text(body, "model_route")
    model_input = _text(body, "model_input")
    _required(body, "mlflow_version")
    start_time = body.get("start_time")
    if start_time is not None and (not isinstance(start_time, int) or isinstance(start_time, bool)):
        raise InvalidParameterValue("'start_time' must be an integer of milliseconds since the epoch.")
    experiment = experiment_queries.get_experiment(call.workspace, str(experiment_id))
    run = promptlab.create_promptlab_run(
        experiment=experiment,
        # As for CreateRun: a signed-in caller's runs carry their name, not what the client claims.
        user_id=call.principal.username or str(body.get("user_id") or "unknown"),
        run_name=_text(body, "run_name", required=False),
        start_time=ms_to_datetime(start_time, "start_time") if start_time is not None else None,
        tags=_key_values(body, "tags"),
        prompt_template=prompt_template,
        prompt_parameters=prompt_parameters,
        model_route=model_route,
        model_parameters=_key_values(body, "model_parameters"),
        model_input=model_input,
        model_output=_text(body, "model_output", required=False),
        model_output_parameters=_key_values(body, "model_output_parameters"),
    )
    return {"run": run_message(run_queries.load_runs([run.pk])[0])}


@rpc("mlflow.ui.UploadArtifact")
def upload_artifact(call: ApiCall) -> dict[str, Any]:
    args = call.request.GET
    run_id = args.get("run_uuid")
    if not run_id:
        raise InvalidParameterValue("Request must specify run_uuid.")
    path = args.get("path")
    if not path:
        raise InvalidParameterValue("Request must specify path.")
    relative = clean_path(path, file=True)
    declared = int(call.request.META.get("CONTENT_LENGTH") or 0)
    if declared > MAX_UI_UPLOAD_BYTES:
        raise RequestTooLarge("Artifact size is too large. Max size is 10MB.")
    if not declared:
        raise InvalidParameterValue("Request must specify data.")
    run = run_queries.get_run(call.workspace, run_id)
    root = artifacts.proxy_path(run.artifact_uri)
    if root is None:
        raise InvalidParameterValue(f"The files at '{run.artifact_uri}' are not stored on this server.")
    artifacts.save_artifact(workspace=call.workspace, path=f"{root}/{relative}", stream=upload_stream(call))
    return {}


@rpc("mlflow.ui.GetArtifact")
def get_artifact(call: ApiCall) -> HttpResponse:
    args = call.request.GET
    run_id = args.get("run_id") or args.get("run_uuid")
    if not run_id:
        raise InvalidParameterValue("Missing value for required parameter 'run_id'.")
    run = run_queries.get_run(call.workspace, run_id)
    return send_artifact_under(call, run.artifact_uri, _path_arg(call, "path"))


@rpc("mlflow.ui.GetLoggedModelArtifact")
def get_logged_model_artifact(call: ApiCall) -> HttpResponse:
    path = call.request.GET.get("artifact_file_path")
    if not path:
        raise BadRequest('Request must include the "artifact_file_path" query parameter.')
    model = model_queries.get_logged_model(call.workspace, call.path_args["model_id"])
    return send_artifact_under(call, model.artifact_location, path)


@rpc("mlflow.ui.GetTraceArtifact")
def get_trace_artifact(call: ApiCall) -> HttpResponse:
    """A trace's spans as MLflow's `traces.json` (an attachment), or with `path` one of its
    attachments. Spans kept here are written out; an older client's uploaded file is sent as is."""
    trace_id = call.request.GET.get("request_id")
    if not trace_id:
        raise BadRequest('Request must include the "request_id" query parameter.')
    trace = trace_queries.get_trace(call.workspace, trace_id)
    files = trace_queries.trace_artifact_location(trace)
    if path := call.request.GET.get("path"):
        return send_artifact_under(call, files, f"attachments/{clean_path(path, file=True)}")
    spans = trace_queries.trace_data_spans(trace)
    if spans or not files:
        return bytes_response(orjson.dumps({"spans": spans}), trace_queries.TRACE_DATA_FILE)
    return send_artifact_under(call, files, trace_queries.TRACE_DATA_FILE)


def _path_arg(call: ApiCall, name: str) -> str:
    path = call.request.GET.get(name)
    if not path:
        raise InvalidParameterValue(f"Missing value for required parameter '{name}'.")
    return path


# --- The prompt lab's gateway proxy ------------------------------------------------------------
# MLflow's server forwards `gateway_path` to an external deployments server (MLFLOW_DEPLOYMENTS_
# TARGET). Ours has a gateway of its own, so the proxy answers from it: the listing is the
# workspace's gateway endpoints in the deployments server's shape, and an invocation is checked
# as a gateway invocation is (and, like one, cannot reach a provider from here). Paths are
# checked as MLflow checks them, with its words, so no request can be aimed anywhere else.

_PROXY_LIST_PATH = "api/2.0/endpoints"
_PROXY_INVOKE_PATH = re.compile(r"gateway/([^/]+)/invocations")


def _gateway_path(method: str, raw: object) -> str:
    if not raw or not isinstance(raw, str):
        raise InvalidParameterValue("Deployments proxy request must specify a gateway_path.")
    path = raw.strip("/")
    if (method == "GET" and path == _PROXY_LIST_PATH) or (
        method == "POST" and _PROXY_INVOKE_PATH.fullmatch(path)
    ):
        return path
    raise InvalidParameterValue(f"Invalid gateway_path: {raw[:200]} for method: {method}")


@rpc("mlflow.ui.ListGatewayProxyEndpoints")
def list_gateway_proxy_endpoints(call: ApiCall) -> dict[str, Any]:
    _gateway_path("GET", call.request.GET.get("gateway_path"))
    endpoints = []
    for endpoint in gateway_queries.list_endpoints(call.workspace):
        mappings = list(endpoint.model_mappings.all())
        shaped: dict[str, Any] = {
            "name": endpoint.name,
            "endpoint_type": "llm/v1/chat",
            "endpoint_url": f"/gateway/{endpoint.name}/mlflow/invocations",
        }
        if mappings:
            definition = mappings[0].model_definition
            shaped["model"] = {"name": definition.model_name, "provider": definition.provider}
        endpoints.append(shaped)
    return {"endpoints": endpoints}


@rpc("mlflow.ui.InvokeGatewayProxyEndpoint")
def invoke_gateway_proxy_endpoint(call: ApiCall) -> dict[str, Any]:
    body = read_json_body(call.request)
    match = _PROXY_INVOKE_PATH.fullmatch(_gateway_path("POST", body.get("gateway_path")))
    endpoint = gateway_queries.get_endpoint(call.workspace, name=match.group(1))
    payload = body.get("json_data")
    if not isinstance(payload, dict) or (
        "messages" not in payload and "prompt" not in payload and "input" not in payload
    ):
        raise InvalidParameterValue(
            "Invalid request: json_data must be a chat, completions or embeddings payload"
        )
    raise unreachable(endpoint)
