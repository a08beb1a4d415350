"""MlflowService experiment RPCs."""

from __future__ import annotations

from typing import Any

from tracking.queries import experiments as queries
from tracking.services import experiments as services

from ..responses import page_message
from ..router import ApiCall, rpc
from ..shapes import experiment_message


def _tag_pairs(tags: list[dict]) -> list[tuple[str, str]]:
    return [(tag.get("key", ""), tag.get("value", "")) for tag in tags]


@rpc("mlflow.CreateExperiment")
def create_experiment(call: ApiCall) -> dict[str, Any]:
    message = call.message
    experiment = services.create_experiment(
        workspace=call.workspace,
        name=message["name"],
        artifact_location=message.get("artifact_location"),
        tags=_tag_pairs(message.get("tags", [])),
    )
    return {"experiment_id": experiment.experiment_id}


@rpc("mlflow.GetExperiment")
def get_experiment(call: ApiCall) -> dict[str, Any]:
    experiment = queries.get_experiment(call.workspace, call.message["experiment_id"])
    tags = queries.experiment_tags([experiment])[experiment.pk]
    return {"experiment": experiment_message(experiment, tags, call.workspace.name)}


@rpc("mlflow.GetExperimentByName")
def get_experiment_by_name(call: ApiCall) -> dict[str, Any]:
    experiment = queries.get_experiment_by_name(call.workspace, call.message["experiment_name"])
    tags = queries.experiment_tags([experiment])[experiment.pk]
    return {"experiment": experiment_message(experiment, tags, call.workspace.name)}


@rpc("mlflow.SearchExperiments")
def search_experiments(call: ApiCall) -> dict[str, Any]:
    message = call.message
    page = queries.search_experiments(
        call.workspace,
        filter_string=message.get("filter", ""),
        order_by=message.get("order_by"),
        view_type=message.get("view_type", "ACTIVE_ONLY"),
        max_results=message.get("max_results", 1000),
        page_token=message.get("page_token"),
    )
    return page_message(
        "experiments",
        [experiment_message(e, e.tags, call.workspace.name) for e in page.experiments],
        page.next_page_token,
    )


@rpc("mlflow.UpdateExperiment")
def update_experiment(call: ApiCall) -> dict[str, Any]:
    experiment = queries.get_experiment(call.workspace, call.message["experiment_id"])
    services.rename_experiment(experiment=experiment, new_name=call.message.get("new_name", ""))
    return {}


@rpc("mlflow.DeleteExperiment")
def delete_experiment(call: ApiCall) -> dict[str, Any]:
    experiment = queries.get_experiment(call.workspace, call.message["experiment_id"])
    services.delete_experiment(experiment=experiment)
    return {}


@rpc("mlflow.RestoreExperiment")
def restore_experiment(call: ApiCall) -> dict[str, Any]:
    experiment = queries.get_experiment(call.workspace, call.message["experiment_id"])
    services.restore_experiment(experiment=experiment)
    return {}


@rpc("mlflow.SetExperimentTag")
def set_experiment_tag(call: ApiCall) -> dict[str, Any]:
    experiment = queries.get_experiment(call.workspace, call.message["experiment_id"])
    services.set_experiment_tag(
        experiment=experiment, key=call.message["key"], value=call.message.get("value", "")
    )
    return {}


@rpc("mlflow.DeleteExperimentTag")
def delete_experiment_tag(call: ApiCall) -> dict[str, Any]:
    experiment = queries.get_experiment(call.workspace, call.message["experiment_id"])
    services.delete_experiment_tag(experiment=experiment, key=call.message["key"])
    return {}
