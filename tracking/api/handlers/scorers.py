"""MlflowService scorer RPCs (MLflow 3 GenAI, /api/3.0/mlflow/scorers/...)."""

from __future__ import annotations

from typing import Any

from tracking.errors import InvalidParameterValue
from tracking.models import ScorerVersion
from tracking.queries import scorers as queries
from tracking.queries.experiments import existing_experiments, get_experiment
from tracking.services import scorers as services
from tracking.times import datetime_to_ms

from ..router import ApiCall, extra_route, rpc

# Online scoring (sampling traces as they arrive) needs traces, which this server does not keep:
# no scorer has an online configuration, and the client asks for them after every listing.
extra_route("GET", "/mlflow/scorers/online-configs", 3, "mlflow.scorers.GetOnlineScoringConfigs")


def scorer_message(version: ScorerVersion) -> dict[str, Any]:
    return {
        "experiment_id": version.scorer.experiment.number,  # an int32 in MLflow's Scorer message
        "scorer_name": version.scorer.name,
        "scorer_version": version.version,
        "serialized_scorer": version.serialized_scorer,
        "creation_time": datetime_to_ms(version.created_at),
        "scorer_id": version.scorer.scorer_id,
    }


def _required(call: ApiCall, *names: str) -> list[str]:
    for name in names:
        if not call.message.get(name):
            raise InvalidParameterValue(
                f"Missing value for required parameter '{name}'. See the API docs for more information "
                "about request parameters."
            )
    return [call.message[name] for name in names]


def _active_experiment(call: ApiCall):
    experiment = get_experiment(call.workspace, _required(call, "experiment_id")[0])
    services.check_experiment_is_active(experiment)
    return experiment


@rpc("mlflow.RegisterScorer")
def register_scorer(call: ApiCall) -> dict[str, Any]:
    experiment_id, name, serialized = _required(call, "experiment_id", "name", "serialized_scorer")
    version = services.register_scorer(
        experiment=get_experiment(call.workspace, experiment_id), name=name, serialized_scorer=serialized
    )
    return {
        "version": version.version,
        "scorer_id": version.scorer.scorer_id,
        "experiment_id": version.scorer.experiment.experiment_id,
        "name": version.scorer.name,
        "serialized_scorer": version.serialized_scorer,
        "creation_time": datetime_to_ms(version.created_at),
    }


@rpc("mlflow.ListScorers")
def list_scorers(call: ApiCall) -> dict[str, Any]:
    message = call.message
    if message.get("experiment_id") and "experiment_ids" in message:
        raise InvalidParameterValue(
            "Cannot specify both 'experiment_id' and 'experiment_ids'. Use 'experiment_ids' to scope the query "
            "to multiple experiments, or 'experiment_id' to scope it to a single experiment."
        )
    if "experiment_ids" in message:
        # As in MLflow: ids of no active experiment here are passed over.
        experiments = queries.active_experiments_of(
            call.workspace, existing_experiments(call.workspace, message["experiment_ids"])
        )
    elif message.get("experiment_id"):
        experiments = [_active_experiment(call)]
    else:
        experiments = queries.active_experiments_of(call.workspace)
    versions = queries.latest_scorer_versions(experiments)
    return {"scorers": [scorer_message(v) for v in versions]} if versions else {}


@rpc("mlflow.ListScorerVersions")
def list_scorer_versions(call: ApiCall) -> dict[str, Any]:
    (name,) = _required(call, "name")
    versions = queries.scorer_versions(_active_experiment(call), name)
    return {"scorers": [scorer_message(v) for v in versions]}


@rpc("mlflow.GetScorer")
def get_scorer(call: ApiCall) -> dict[str, Any]:
    (name,) = _required(call, "name")
    version = queries.get_scorer_version(_active_experiment(call), name, call.message.get("version"))
    return {"scorer": scorer_message(version)}


@rpc("mlflow.DeleteScorer")
def delete_scorer(call: ApiCall) -> dict[str, Any]:
    experiment_id, name = _required(call, "experiment_id", "name")
    experiment = get_experiment(call.workspace, experiment_id)
    services.delete_scorer(experiment=experiment, name=name, version=call.message.get("version"))
    return {}


@rpc("mlflow.scorers.GetOnlineScoringConfigs")
def get_online_scoring_configs(call: ApiCall) -> dict[str, Any]:
    return {"configs": []}
