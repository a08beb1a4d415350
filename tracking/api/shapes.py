"""Domain records -> MLflow's JSON messages (proto3 JSON: fields that are unset are left out)."""

from __future__ import annotations

from typing import Any

from tracking.models import Experiment
from tracking.queries.experiments import ExperimentRecord
from tracking.queries.logged_models import LoggedModelRecord
from tracking.queries.runs import RunRecord
from tracking.times import datetime_to_ms

from .wire import double


def experiment_message(
    experiment: Experiment | ExperimentRecord, tags: list[tuple[str, str]], workspace: str
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "experiment_id": experiment.experiment_id,
        "name": experiment.name,
        "artifact_location": experiment.artifact_location,
        "lifecycle_stage": experiment.lifecycle_stage,
        "last_update_time": datetime_to_ms(experiment.updated_at),
        "creation_time": datetime_to_ms(experiment.created_at),
    }
    if tags:
        message["tags"] = [{"key": key, "value": value} for key, value in tags]
    message["workspace"] = workspace
    return message


def run_info_message(record: RunRecord) -> dict[str, Any]:
    info: dict[str, Any] = {
        "run_id": record.run_id,
        "run_uuid": record.run_id,
        "run_name": record.name,
        "experiment_id": record.experiment_id,
        "user_id": record.user_id,
        "status": record.status,
        "start_time": datetime_to_ms(record.start_time),
        "artifact_uri": record.artifact_uri,
        "lifecycle_stage": record.lifecycle_stage,
    }
    if record.end_time is not None:
        info["end_time"] = datetime_to_ms(record.end_time)
    return info


def run_message(record: RunRecord) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if record.metrics:
        data["metrics"] = [
            {"key": key, "value": double(value), "timestamp": timestamp, "step": step}
            for key, value, timestamp, step in record.metrics
        ]
    if record.params:
        data["params"] = [{"key": key, "value": value} for key, value in record.params]
    if record.tags:
        data["tags"] = [{"key": key, "value": value} for key, value in record.tags]
    inputs: dict[str, Any] = {}
    if record.dataset_inputs:
        inputs["dataset_inputs"] = [
            {
                **({"tags": [{"key": k, "value": v} for k, v in dataset.tags]} if dataset.tags else {}),
                "dataset": {
                    "name": dataset.name,
                    "digest": dataset.digest,
                    "source_type": dataset.source_type,
                    "source": dataset.source,
                    **({"schema": dataset.schema} if dataset.schema else {}),
                    **({"profile": dataset.profile} if dataset.profile else {}),
                },
            }
            for dataset in record.dataset_inputs
        ]
    if record.model_inputs:
        inputs["model_inputs"] = [{"model_id": model_id} for model_id in record.model_inputs]
    outputs: dict[str, Any] = {}
    if record.model_outputs:
        outputs["model_outputs"] = [
            {"model_id": model_id, "step": step} for model_id, step in record.model_outputs
        ]
    return {"info": run_info_message(record), "data": data, "inputs": inputs, "outputs": outputs}


def metric_message(key: str, value: float | None, timestamp: int, step: int) -> dict[str, Any]:
    return {"key": key, "value": double(value), "timestamp": timestamp, "step": step}


def logged_model_message(record: LoggedModelRecord) -> dict[str, Any]:
    model = record.model
    info: dict[str, Any] = {
        "model_id": model.model_id,
        "experiment_id": model.experiment.experiment_id,
        "name": model.name,
        "creation_timestamp_ms": datetime_to_ms(model.created_at),
        "last_updated_timestamp_ms": datetime_to_ms(model.updated_at),
        "artifact_uri": model.artifact_location,
        "status": model.status,
    }
    if model.model_type:
        info["model_type"] = model.model_type
    if model.source_run_id:
        info["source_run_id"] = model.source_run_id
    if model.status_message:
        info["status_message"] = model.status_message
    if record.tags:
        info["tags"] = [{"key": key, "value": value} for key, value in record.tags]
    data: dict[str, Any] = {}
    if record.params:
        data["params"] = [{"key": key, "value": value} for key, value in record.params]
    if record.metrics:
        data["metrics"] = [
            {
                "key": key,
                "value": double(value),
                "timestamp": timestamp,
                "step": step,
                **({"run_id": run_id} if run_id else {}),
                **({"dataset_name": dataset_name} if dataset_name else {}),
                **({"dataset_digest": dataset_digest} if dataset_digest else {}),
                "model_id": model.model_id,
            }
            for key, value, timestamp, step, run_id, dataset_name, dataset_digest in record.metrics
        ]
    return {"info": info, "data": data}
