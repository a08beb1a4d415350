"""MlflowService logged-model RPCs (MLflow 3)."""

from __future__ import annotations

from typing import Any

from tracking.errors import InvalidParameterValue
from tracking.queries import experiments as experiment_queries
from tracking.queries import logged_models as queries
from tracking.services import logged_models as services

from ..protocol import read_json_body
from ..responses import page_message
from ..router import ApiCall, rpc
from ..shapes import logged_model_message


def _pairs(entries: list[dict]) -> list[tuple[str, str]]:
    return [(entry.get("key", ""), entry.get("value", "")) for entry in entries]


def _one(call: ApiCall) -> dict[str, Any]:
    model = queries.get_logged_model(call.workspace, call.message["model_id"])
    return {"model": logged_model_message(queries.load_logged_models([model])[0])}


@rpc("mlflow.CreateLoggedModel")
def create_logged_model(call: ApiCall) -> dict[str, Any]:
    message = call.message
    experiment = experiment_queries.get_experiment(call.workspace, message["experiment_id"])
    model = services.create_logged_model(
        experiment=experiment,
        name=message.get("name", ""),
        model_type=message.get("model_type", ""),
        source_run_id=message.get("source_run_id", ""),
        params=_pairs(message.get("params", [])),
        tags=_pairs(message.get("tags", [])),
    )
    return {"model": logged_model_message(queries.load_logged_models([model])[0])}


@rpc("mlflow.GetLoggedModel")
def get_logged_model(call: ApiCall) -> dict[str, Any]:
    return _one(call)


@rpc("mlflow.FinalizeLoggedModel")
def finalize_logged_model(call: ApiCall) -> dict[str, Any]:
    model = queries.get_logged_model(call.workspace, call.message["model_id"])
    services.finalize_logged_model(model=model, status=call.message["status"])
    return _one(call)


@rpc("mlflow.DeleteLoggedModel")
def delete_logged_model(call: ApiCall) -> dict[str, Any]:
    services.delete_logged_model(model=queries.get_logged_model(call.workspace, call.message["model_id"]))
    return {}


@rpc("mlflow.SetLoggedModelTags")
def set_logged_model_tags(call: ApiCall) -> dict[str, Any]:
    model = queries.get_logged_model(call.workspace, call.message["model_id"])
    services.set_logged_model_tags(model=model, tags=_pairs(call.message.get("tags", [])))
    return _one(call)


@rpc("mlflow.DeleteLoggedModelTag")
def delete_logged_model_tag(call: ApiCall) -> dict[str, Any]:
    model = queries.get_logged_model(call.workspace, call.message["model_id"])
    services.delete_logged_model_tag(model=model, key=call.message["tag_key"])
    return {}


@rpc("mlflow.LogLoggedModelParamsRequest")
def log_logged_model_params(call: ApiCall) -> dict[str, Any]:
    body_model_id = (read_json_body(call.request) or {}).get("model_id")
    if body_model_id != call.path_args.get("model_id"):
        raise InvalidParameterValue("The request body must repeat the model_id of the path.")
    model = queries.get_logged_model(call.workspace, call.message["model_id"])
    services.log_logged_model_params(model=model, params=_pairs(call.message.get("params", [])))
    return {}


@rpc("mlflow.SearchLoggedModels")
def search_logged_models(call: ApiCall) -> dict[str, Any]:
    message = call.message
    page = queries.search_logged_models(
        call.workspace,
        experiment_ids=message.get("experiment_ids", []),
        filter_string=message.get("filter", ""),
        datasets=message.get("datasets"),
        order_by=message.get("order_by"),
        max_results=message.get("max_results"),
        page_token=message.get("page_token"),
    )
    return page_message(
        "models", [logged_model_message(record) for record in page.models], page.next_page_token
    )
