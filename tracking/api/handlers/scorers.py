"""MlflowService scorer RPCs (MLflow 3 GenAI, /api/3.0/mlflow/scorers/...)."""

from __future__ import annotations

from typing import Any

from tracking.errors import InvalidParameterValue
from tracking.models import OnlineScoringConfig, ScorerVersion
from tracking.queries import scorers as queries
from tracking.queries.experiments import existing_experiments, get_experiment
from tracking.services import scorers as services
from tracking.times import datetime_to_ms

from ..protocol import read_json_body
from ..router import ApiCall, extra_route, rpc

# Online scoring (a scorer judging a share of an experiment's traces as they arrive): routes
# MLflow's server adds besides its RPCs, with a JSON body or query string of their own.
extra_route("GET", "/mlflow/scorers/online-configs", 3, "mlflow.scorers.GetOnlineScoringConfigs")
extra_route("PUT", "/mlflow/scorers/online-config", 3, "mlflow.scorers.UpsertOnlineScoringConfig")


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


def online_scoring_config_message(config: OnlineScoringConfig) -> dict[str, Any]:
    message: dict[str, Any] = {
        "online_scoring_config_id": config.online_scoring_config_id,
        "scorer_id": config.scorer.scorer_id,
        "sample_rate": config.sample_rate,
        "experiment_id": config.scorer.experiment.experiment_id,
    }
    if config.filter_string is not None:
        message["filter_string"] = config.filter_string
    return message


def _missing(name: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Missing value for required parameter '{name}'. See the API docs for more information about "
        "request parameters."
    )


def _of_type(body: dict[str, Any], name: str, expected: tuple[type, ...], label: str) -> Any:
    value = body.get(name)
    if value is not None and (not isinstance(value, expected) or isinstance(value, bool)):
        raise InvalidParameterValue(
            f"Invalid value {value!r} for parameter '{name}' supplied: Value was of type "
            f"'{type(value).__name__}'. Expected type {label}."
        )
    return value


@rpc("mlflow.scorers.GetOnlineScoringConfigs")
def get_online_scoring_configs(call: ApiCall) -> dict[str, Any]:
    scorer_ids = call.request.GET.getlist("scorer_ids")
    if not scorer_ids:
        raise _missing("scorer_ids")
    configs = queries.online_scoring_configs(call.workspace, scorer_ids)
    return {"configs": [online_scoring_config_message(config) for config in configs]}


@rpc("mlflow.scorers.UpsertOnlineScoringConfig")
def upsert_online_scoring_config(call: ApiCall) -> dict[str, Any]:
    body = read_json_body(call.request)
    for name in ("experiment_id", "name", "sample_rate"):
        if body.get(name) in (None, ""):
            raise _missing(name)
    experiment_id = _of_type(body, "experiment_id", (str,), "'str'")
    name = _of_type(body, "name", (str,), "'str'")
    sample_rate = _of_type(body, "sample_rate", (int, float), "'float'")
    filter_string = _of_type(body, "filter_string", (str,), "'str' or None")
    config = services.upsert_online_scoring_config(
        experiment=get_experiment(call.workspace, experiment_id),
        name=name,
        sample_rate=float(sample_rate),
        filter_string=filter_string,
    )
    return {"config": online_scoring_config_message(config)}
