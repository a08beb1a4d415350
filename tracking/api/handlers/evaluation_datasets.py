"""MlflowService evaluation-dataset RPCs (MLflow 3, /api/3.0/mlflow/datasets/...)."""

from __future__ import annotations

import json
from typing import Any

from tracking.models import EvaluationDataset, EvaluationDatasetRecord
from tracking.queries import evaluation_datasets as queries
from tracking.queries.experiments import existing_experiments, get_experiments
from tracking.services import evaluation_datasets as services
from tracking.times import datetime_to_ms

from ..protocol import decode_json_string
from ..responses import page_message
from ..router import ApiCall, rpc


def dataset_message(view: queries.DatasetView) -> dict[str, Any]:
    dataset = view.dataset
    message: dict[str, Any] = {
        "dataset_id": dataset.dataset_id,
        "name": dataset.name,
        # Written as MLflow's server writes these JSON strings (json.dumps), byte for byte.
        "tags": json.dumps(view.tags),
        "digest": dataset.digest,
        "created_time": datetime_to_ms(dataset.created_at),
        "last_update_time": datetime_to_ms(dataset.updated_at),
    }
    optional = {
        "schema": dataset.schema,
        "profile": dataset.profile,
        "created_by": dataset.created_by,
        "last_updated_by": dataset.last_updated_by,
    }
    message |= {name: value for name, value in optional.items() if value is not None}
    if view.experiment_ids:
        message["experiment_ids"] = view.experiment_ids
    return message


def record_dict(record: EvaluationDatasetRecord, dataset_id: str) -> dict[str, Any]:
    """A record as MLflow's DatasetRecord.to_dict() writes it (inside the response's JSON string)."""
    found: dict[str, Any] = {
        "dataset_record_id": record.record_id,
        "dataset_id": dataset_id,
        "inputs": record.inputs,
        "tags": record.tags or {},
        "created_time": datetime_to_ms(record.created_at),
        "last_update_time": datetime_to_ms(record.updated_at),
    }
    optional = {
        "outputs": record.outputs,
        "expectations": record.expectations,
        "source": record.source,
        "source_id": record.source_id,
        "source_type": record.source_type,
        "created_by": record.created_by,
        "last_updated_by": record.last_updated_by,
    }
    return found | {name: value for name, value in optional.items() if value is not None}


def _dataset(call: ApiCall) -> EvaluationDataset:
    return queries.get_evaluation_dataset(call.workspace, call.message["dataset_id"])


def _answer(dataset: EvaluationDataset, *, with_experiment_ids: bool = False) -> dict[str, Any]:
    # As MLflow: only a new dataset's answer lists its experiments; the client asks for them
    # (GetDatasetExperimentIds) when it needs them.
    [view] = queries.load_evaluation_datasets([dataset], with_experiment_ids=with_experiment_ids)
    return {"dataset": dataset_message(view)}


@rpc("mlflow.CreateDataset")
def create_dataset(call: ApiCall) -> dict[str, Any]:
    message = call.message
    tags = decode_json_string(message["tags"], "tags") if message.get("tags") else None
    dataset = services.create_evaluation_dataset(
        workspace=call.workspace,
        name=message["name"],
        tags=tags,
        experiments=get_experiments(call.workspace, message.get("experiment_ids", [])),
    )
    return _answer(dataset, with_experiment_ids=True)


@rpc("mlflow.GetDataset")
def get_dataset(call: ApiCall) -> dict[str, Any]:
    return _answer(_dataset(call))


@rpc("mlflow.DeleteDataset")
def delete_dataset(call: ApiCall) -> dict[str, Any]:
    services.delete_evaluation_dataset(dataset=_dataset(call))
    return {}


@rpc("mlflow.SearchEvaluationDatasets")
def search_evaluation_datasets(call: ApiCall) -> dict[str, Any]:
    message = call.message
    page = queries.search_evaluation_datasets(
        call.workspace,
        experiment_ids=message.get("experiment_ids"),
        filter_string=message.get("filter_string") or "",
        order_by=message.get("order_by"),
        max_results=message.get("max_results"),
        page_token=message.get("page_token"),
    )
    return page_message("datasets", [dataset_message(view) for view in page.datasets], page.next_page_token)


@rpc("mlflow.SetDatasetTags")
def set_dataset_tags(call: ApiCall) -> dict[str, Any]:
    dataset = _dataset(call)
    services.set_evaluation_dataset_tags(
        dataset=dataset, tags=decode_json_string(call.message["tags"], "tags")
    )
    return {}


@rpc("mlflow.DeleteDatasetTag")
def delete_dataset_tag(call: ApiCall) -> dict[str, Any]:
    services.delete_evaluation_dataset_tag(dataset=_dataset(call), key=call.message["key"])
    return {}


@rpc("mlflow.UpsertDatasetRecords")
def upsert_dataset_records(call: ApiCall) -> dict[str, Any]:
    dataset = _dataset(call)
    records = decode_json_string(call.message["records"], "records")
    inserted, updated = services.upsert_dataset_records(dataset=dataset, records=records)
    return {"inserted_count": inserted, "updated_count": updated}


@rpc("mlflow.GetDatasetRecords")
def get_dataset_records(call: ApiCall) -> dict[str, Any]:
    dataset = _dataset(call)
    records, next_token = queries.dataset_records_page(
        dataset, max_results=call.message.get("max_results"), page_token=call.message.get("page_token")
    )
    answer = {"records": json.dumps([record_dict(r, dataset.dataset_id) for r in records])}
    if next_token:
        answer["next_page_token"] = next_token
    return answer


@rpc("mlflow.DeleteDatasetRecords")
def delete_dataset_records(call: ApiCall) -> dict[str, Any]:
    dataset = _dataset(call)
    deleted = services.delete_dataset_records(
        dataset=dataset, record_ids=call.message.get("dataset_record_ids", [])
    )
    return {"deleted_count": deleted}


@rpc("mlflow.GetDatasetExperimentIds")
def get_dataset_experiment_ids(call: ApiCall) -> dict[str, Any]:
    experiment_ids = queries.dataset_experiment_ids(_dataset(call))
    return {"experiment_ids": experiment_ids} if experiment_ids else {}


@rpc("mlflow.AddDatasetToExperiments")
def add_dataset_to_experiments(call: ApiCall) -> dict[str, Any]:
    dataset = _dataset(call)
    experiments = get_experiments(call.workspace, call.message.get("experiment_ids", []))
    services.add_dataset_to_experiments(dataset=dataset, experiments=experiments)
    return _answer(dataset)


@rpc("mlflow.RemoveDatasetFromExperiments")
def remove_dataset_from_experiments(call: ApiCall) -> dict[str, Any]:
    dataset = _dataset(call)
    # Ids of no experiment here are passed over (idempotent, as in MLflow), but must be ids.
    experiments = existing_experiments(call.workspace, call.message.get("experiment_ids", []))
    services.remove_dataset_from_experiments(dataset=dataset, experiments=experiments)
    return _answer(dataset)
