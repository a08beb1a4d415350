"""Registry records -> MLflow's JSON messages, written as MLflow's server writes them.

Empty lists and unset optional fields are left out. A version always carries `description`,
`source`, `run_id` and `run_link` (MLflow's server sends "" for them), never `model_id` (the
reference server leaves it out of ModelVersion responses).
"""

from __future__ import annotations

from typing import Any

from registry.queries.records import ModelRecord, VersionRecord
from tracking.times import datetime_to_ms


def model_version_message(record: VersionRecord) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": record.name,
        "version": str(record.version),
        "creation_timestamp": datetime_to_ms(record.created_at),
        "last_updated_timestamp": datetime_to_ms(record.updated_at),
    }
    if record.user_id:
        message["user_id"] = record.user_id
    message["current_stage"] = record.current_stage
    message["description"] = record.description
    message["source"] = record.source
    message["run_id"] = record.run_id
    message["status"] = record.status
    if record.status_message:
        message["status_message"] = record.status_message
    if record.tags:
        message["tags"] = [{"key": key, "value": value} for key, value in record.tags]
    message["run_link"] = record.run_link
    if record.aliases:
        message["aliases"] = record.aliases
    return message


def registered_model_message(record: ModelRecord) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": record.name,
        "creation_timestamp": datetime_to_ms(record.created_at),
        "last_updated_timestamp": datetime_to_ms(record.updated_at),
    }
    if record.user_id:
        message["user_id"] = record.user_id
    if record.description:
        message["description"] = record.description
    if record.latest_versions:
        message["latest_versions"] = [model_version_message(version) for version in record.latest_versions]
    if record.tags:
        message["tags"] = [{"key": key, "value": value} for key, value in record.tags]
    if record.aliases:
        message["aliases"] = [{"alias": alias, "version": str(version)} for alias, version in record.aliases]
    return message
