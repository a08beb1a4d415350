"""ModelRegistryService RPCs: one handler per RPC, each a parse, one domain call and a shape.

Importing this module registers the handlers with `tracking.api.router`.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from registry.queries import model_versions as version_queries
from registry.queries import registered_models as model_queries
from registry.services import model_versions as version_services
from registry.services import registered_models as model_services
from tracking.api.handlers.artifacts import send_artifact_under
from tracking.api.responses import page_message
from tracking.api.router import ApiCall, extra_route, rpc
from tracking.artifacts import clean_path
from tracking.errors import InvalidParameterValue

from .shapes import model_version_message, registered_model_message


def _pairs(entries: list[dict]) -> list[tuple[str, str]]:
    return [(entry.get("key", ""), entry.get("value", "")) for entry in entries]


def _model(call: ApiCall):
    return model_queries.get_registered_model(call.workspace, call.message["name"])


def _version(call: ApiCall):
    return version_queries.get_model_version(call.workspace, call.message["name"], call.message["version"])


def _model_answer(model) -> dict[str, Any]:
    return {"registered_model": registered_model_message(model_queries.load_registered_model(model))}


def _version_answer(version) -> dict[str, Any]:
    return {"model_version": model_version_message(version_queries.load_model_version(version))}


# --- Registered models -------------------------------------------------------------------------


@rpc("mlflow.CreateRegisteredModel")
def create_registered_model(call: ApiCall) -> dict[str, Any]:
    model = model_services.create_registered_model(
        workspace=call.workspace,
        name=call.message["name"],
        description=call.message.get("description", ""),
        tags=_pairs(call.message.get("tags", [])),
    )
    return {"registered_model": registered_model_message(model_queries.load_created_registered_model(model))}


@rpc("mlflow.GetRegisteredModel")
def get_registered_model(call: ApiCall) -> dict[str, Any]:
    record = model_queries.get_registered_model_record(call.workspace, call.message["name"])
    return {"registered_model": registered_model_message(record)}


@rpc("mlflow.UpdateRegisteredModel")
def update_registered_model(call: ApiCall) -> dict[str, Any]:
    model = model_services.update_registered_model(
        model=_model(call), description=call.message.get("description", "")
    )
    return _model_answer(model)


@rpc("mlflow.RenameRegisteredModel")
def rename_registered_model(call: ApiCall) -> dict[str, Any]:
    model = model_services.rename_registered_model(
        model=_model(call), new_name=call.message.get("new_name", "")
    )
    return _model_answer(model)


@rpc("mlflow.DeleteRegisteredModel")
def delete_registered_model(call: ApiCall) -> dict[str, Any]:
    model_services.delete_registered_model(model=_model(call))
    return {}


@rpc("mlflow.SearchRegisteredModels")
def search_registered_models(call: ApiCall) -> dict[str, Any]:
    message = call.message
    page = model_queries.search_registered_models(
        call.workspace,
        filter_string=message.get("filter", ""),
        max_results=message.get("max_results"),
        order_by=message.get("order_by"),
        page_token=message.get("page_token"),
    )
    return page_message(
        "registered_models",
        [registered_model_message(record) for record in page.models],
        page.next_page_token,
    )


@rpc("mlflow.GetLatestVersions")
def get_latest_versions(call: ApiCall) -> dict[str, Any]:
    records = model_queries.get_latest_versions(
        call.workspace, call.message["name"], call.message.get("stages") or None
    )
    return {"model_versions": [model_version_message(record) for record in records]} if records else {}


@rpc("mlflow.SetRegisteredModelTag")
def set_registered_model_tag(call: ApiCall) -> dict[str, Any]:
    model_services.set_registered_model_tag(
        model=_model(call), key=call.message["key"], value=call.message.get("value", "")
    )
    return {}


@rpc("mlflow.DeleteRegisteredModelTag")
def delete_registered_model_tag(call: ApiCall) -> dict[str, Any]:
    model_services.delete_registered_model_tag(model=_model(call), key=call.message["key"])
    return {}


@rpc("mlflow.SetRegisteredModelAlias")
def set_registered_model_alias(call: ApiCall) -> dict[str, Any]:
    model_services.set_registered_model_alias(
        model=_model(call), alias=call.message["alias"], version=call.message["version"]
    )
    return {}


@rpc("mlflow.DeleteRegisteredModelAlias")
def delete_registered_model_alias(call: ApiCall) -> dict[str, Any]:
    model_services.delete_registered_model_alias(model=_model(call), alias=call.message["alias"])
    return {}


@rpc("mlflow.GetModelVersionByAlias")
def get_model_version_by_alias(call: ApiCall) -> dict[str, Any]:
    record = version_queries.get_model_version_by_alias(
        call.workspace, call.message["name"], call.message["alias"]
    )
    return {"model_version": model_version_message(record)}


# --- Model versions ----------------------------------------------------------------------------


@rpc("mlflow.CreateModelVersion")
def create_model_version(call: ApiCall) -> dict[str, Any]:
    message = call.message
    version = version_services.create_model_version(
        workspace=call.workspace,
        model=_model(call),
        source=message["source"],
        run_id=message.get("run_id"),
        model_id=message.get("model_id"),
        tags=_pairs(message.get("tags", [])),
        run_link=message.get("run_link", ""),
        description=message.get("description", ""),
    )
    return {"model_version": model_version_message(version_queries.load_created_model_version(version))}


@rpc("mlflow.GetModelVersion")
def get_model_version(call: ApiCall) -> dict[str, Any]:
    record = version_queries.get_model_version_record(
        call.workspace, call.message["name"], call.message["version"]
    )
    return {"model_version": model_version_message(record)}


@rpc("mlflow.UpdateModelVersion")
def update_model_version(call: ApiCall) -> dict[str, Any]:
    version = version_services.update_model_version(
        version=_version(call), description=call.message.get("description", "")
    )
    return _version_answer(version)


@rpc("mlflow.DeleteModelVersion")
def delete_model_version(call: ApiCall) -> dict[str, Any]:
    version_services.delete_model_version(version=_version(call))
    return {}


@rpc("mlflow.SearchModelVersions")
def search_model_versions(call: ApiCall) -> dict[str, Any]:
    message = call.message
    page = version_queries.search_model_versions(
        call.workspace,
        filter_string=message.get("filter", ""),
        max_results=message.get("max_results"),
        order_by=message.get("order_by"),
        page_token=message.get("page_token"),
    )
    return page_message(
        "model_versions", [model_version_message(record) for record in page.versions], page.next_page_token
    )


@rpc("mlflow.TransitionModelVersionStage")
def transition_model_version_stage(call: ApiCall) -> dict[str, Any]:
    version = version_services.transition_model_version_stage(
        version=_version(call),
        stage=call.message["stage"],
        archive_existing_versions=call.message.get("archive_existing_versions", False),
    )
    return _version_answer(version)


@rpc("mlflow.GetModelVersionDownloadUri")
def get_model_version_download_uri(call: ApiCall) -> dict[str, Any]:
    uri = version_queries.get_download_uri(call.workspace, call.message["name"], call.message["version"])
    return {"artifact_uri": uri}


@rpc("mlflow.SetModelVersionTag")
def set_model_version_tag(call: ApiCall) -> dict[str, Any]:
    version_services.set_model_version_tag(
        version=_version(call), key=call.message["key"], value=call.message.get("value", "")
    )
    return {}


@rpc("mlflow.DeleteModelVersionTag")
def delete_model_version_tag(call: ApiCall) -> dict[str, Any]:
    version_services.delete_model_version_tag(version=_version(call), key=call.message["key"])
    return {}


# MLflow's UI downloads a version's files from /model-versions/get-artifact (no .proto declares it).
extra_route("GET", "/model-versions/get-artifact", None, "mlflow.ui.GetModelVersionArtifact")


@rpc("mlflow.ui.GetModelVersionArtifact")
def get_model_version_artifact(call: ApiCall) -> HttpResponse:
    args = call.request.GET
    for required in ("name", "version", "path"):
        if not args.get(required):
            raise InvalidParameterValue(f"Missing value for required parameter '{required}'.")
    clean_path(
        args["path"], file=True
    )  # a bad path is refused before the version is looked up, as MLflow does
    version = version_queries.get_model_version(call.workspace, args["name"], args["version"])
    return send_artifact_under(call, version.storage_location, args["path"])
