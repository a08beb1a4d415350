"""MlflowService run RPCs: lifecycle, params, tags, metrics, batches, inputs and outputs."""

from __future__ import annotations

from typing import Any

from tracking.errors import InvalidParameterValue
from tracking.queries import experiments as experiment_queries
from tracking.queries import runs as queries
from tracking.services import runs as services
from tracking.services.metric_points import MetricPoint
from tracking.times import ms_to_datetime

from ..responses import page_message
from ..router import ApiCall, rpc
from ..shapes import run_info_message, run_message


def _run_id(message: dict[str, Any]) -> str:
    run_id = message.get("run_id") or message.get("run_uuid")
    if not run_id:
        raise InvalidParameterValue(
            "Missing value for required parameter 'run_id'. "
            "See the API docs for more information about request parameters."
        )
    return run_id


def _run(call: ApiCall):
    return queries.get_run(call.workspace, _run_id(call.message))


def _pairs(entries: list[dict], path: str) -> list[tuple[str, str]]:
    pairs = []
    for index, entry in enumerate(entries):
        if not entry.get("key"):
            raise InvalidParameterValue(
                f"Missing value for required parameter '{path}[{index}].key'. "
                "See the API docs for more information about request parameters."
            )
        pairs.append((entry["key"], entry.get("value", "")))
    return pairs


def _point(metric: dict[str, Any], path: str) -> MetricPoint:
    try:
        key, value, timestamp = metric["key"], metric["value"], metric["timestamp"]
    except KeyError as missing:
        key = value = timestamp = None
        field = missing.args[0]
    else:
        field = "key" if not key else None
    if field:
        raise InvalidParameterValue(
            f"Missing value for required parameter '{path}{field}'. "
            "See the API docs for more information about request parameters."
        )
    return MetricPoint(
        key,
        value,
        timestamp,
        metric.get("step", 0),
        metric.get("model_id") or None,
        metric.get("dataset_name") or None,
        metric.get("dataset_digest") or None,
    )


def _points(metrics: list[dict[str, Any]]) -> list[MetricPoint]:
    """A batch's metrics as points: a thousand at a time in one comprehension; a missing or empty
    required field is found again point by point, for its error's path."""
    try:
        points = [
            MetricPoint(
                metric["key"],
                metric["value"],
                metric["timestamp"],
                metric.get("step", 0),
                metric.get("model_id") or None,
                metric.get("dataset_name") or None,
                metric.get("dataset_digest") or None,
            )
            for metric in metrics
        ]
    except KeyError:
        points = []
    if len(points) != len(metrics) or not all(point.key for point in points):
        points = [_point(metric, f"metrics[{index}].") for index, metric in enumerate(metrics)]
    return points


@rpc("mlflow.CreateRun")
def create_run(call: ApiCall) -> dict[str, Any]:
    message = call.message
    if not message.get("experiment_id"):
        raise InvalidParameterValue(
            "Missing value for required parameter 'experiment_id'. "
            "See the API docs for more information about request parameters."
        )
    experiment = experiment_queries.get_experiment(call.workspace, message["experiment_id"])
    start_time = message.get("start_time")
    run = services.create_run(
        experiment=experiment,
        # A signed-in caller's runs carry their user name, not what the client claims: a
        # Contributor's right to delete their own runs rests on it.
        user_id=call.principal.username or message.get("user_id", ""),
        run_name=message.get("run_name", ""),
        start_time=ms_to_datetime(start_time, "start_time") if start_time is not None else None,
        tags=_pairs(message.get("tags", []), "tags"),
    )
    message = run_message(queries.created_run_record(run))
    del message["outputs"]  # a new run has none, and MLflow leaves the field out here
    return {"run": message}


@rpc("mlflow.GetRun")
def get_run(call: ApiCall) -> dict[str, Any]:
    return {"run": run_message(queries.get_run_record(call.workspace, _run_id(call.message)))}


@rpc("mlflow.UpdateRun")
def update_run(call: ApiCall) -> dict[str, Any]:
    message = call.message
    run = _run(call)
    end_time = message.get("end_time")
    services.update_run(
        run=run,
        status=message.get("status"),
        end_time=ms_to_datetime(end_time, "end_time") if end_time is not None else None,
        run_name=message.get("run_name"),
    )
    return {"run_info": run_info_message(queries.load_runs([run.pk])[0])}


@rpc("mlflow.DeleteRun")
def delete_run(call: ApiCall) -> dict[str, Any]:
    services.delete_run(run=_run(call))
    return {}


@rpc("mlflow.RestoreRun")
def restore_run(call: ApiCall) -> dict[str, Any]:
    services.restore_run(run=_run(call))
    return {}


@rpc("mlflow.LogParam")
def log_param(call: ApiCall) -> dict[str, Any]:
    services.log_param(run=_run(call), key=call.message["key"], value=call.message.get("value", ""))
    return {}


@rpc("mlflow.SetTag")
def set_tag(call: ApiCall) -> dict[str, Any]:
    services.set_tag(run=_run(call), key=call.message["key"], value=call.message.get("value", ""))
    return {}


@rpc("mlflow.DeleteTag")
def delete_tag(call: ApiCall) -> dict[str, Any]:
    services.delete_tag(run=_run(call), key=call.message["key"])
    return {}


@rpc("mlflow.LogMetric")
def log_metric(call: ApiCall) -> dict[str, Any]:
    run_id = _run_id(call.message)  # MLflow's order: the run's id, then the point's fields
    services.log_metric_to(workspace=call.workspace, run_id=run_id, point=_point(call.message, ""))
    return {}


@rpc("mlflow.LogBatch")
def log_batch(call: ApiCall) -> dict[str, Any]:
    message = call.message
    batch = services.Batch(
        metrics=_points(message.get("metrics", [])),
        params=_pairs(message.get("params", []), "params"),
        tags=_pairs(message.get("tags", []), "tags"),
    )
    services.log_batch_to(workspace=call.workspace, run_id=_run_id(call.message), batch=batch)
    return {}


@rpc("mlflow.LogInputs")
def log_inputs(call: ApiCall) -> dict[str, Any]:
    message = call.message
    datasets = [
        services.DatasetSpec(
            name=entry["dataset"]["name"],
            digest=entry["dataset"]["digest"],
            source_type=entry["dataset"]["source_type"],
            source=entry["dataset"]["source"],
            schema=entry["dataset"].get("schema", ""),
            profile=entry["dataset"].get("profile", ""),
            tags=tuple((tag["key"], tag["value"]) for tag in entry.get("tags", [])),
        )
        for entry in message.get("datasets", [])
    ]
    model_ids = [model["model_id"] for model in message.get("models", [])]
    services.log_inputs(run=_run(call), datasets=datasets, model_ids=model_ids)
    return {}


@rpc("mlflow.LogOutputs")
def log_outputs(call: ApiCall) -> dict[str, Any]:
    models = [(model["model_id"], model["step"]) for model in call.message.get("models", [])]
    services.log_outputs(run=_run(call), models=models)
    return {}


@rpc("mlflow.SearchRuns")
def search_runs(call: ApiCall) -> dict[str, Any]:
    message = call.message
    page = queries.search_runs(
        call.workspace,
        experiment_ids=message.get("experiment_ids", []),
        filter_string=message.get("filter", ""),
        run_view_type=message.get("run_view_type", "ACTIVE_ONLY"),
        max_results=message.get("max_results", 1000),
        order_by=message.get("order_by"),
        page_token=message.get("page_token"),
    )
    return page_message("runs", [run_message(record) for record in page.runs], page.next_page_token)
