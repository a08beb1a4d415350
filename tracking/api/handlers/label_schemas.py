"""Label schema RPCs (MLflow 3 GenAI, /api/3.0/mlflow/label-schemas/...)."""

from __future__ import annotations

from typing import Any

from tracking.errors import InvalidParameterValue
from tracking.models import LabelSchema
from tracking.queries import label_schemas as queries
from tracking.services import label_schemas as services
from tracking.services.label_schemas import SchemaInput
from tracking.times import datetime_to_ms

from ..responses import page_message
from ..router import ApiCall, rpc

_TYPES = {"FEEDBACK": "feedback", "EXPECTATION": "expectation"}
_VARIANTS = ("pass_fail", "categorical", "numeric", "text")


def schema_input(raw: dict[str, Any]) -> SchemaInput:
    """A LabelSchemaInput (a oneof of four widgets) as the domain's input."""
    variants = [name for name in _VARIANTS if raw.get(name) is not None]
    if len(variants) != 1:
        raise InvalidParameterValue(
            "Label schema `input` must have exactly one of `pass_fail`, `categorical`, `numeric`, or `text` "
            f"set; got {len(variants)}."
        )
    return SchemaInput(variants[0], raw[variants[0]])


def _input_message(schema: LabelSchema) -> dict[str, Any]:
    config = schema.input_config
    if schema.input_type == "categorical":
        shaped = {"options": config["options"], "multi_select": config["multi_select"]}
    else:  # proto2's optional fields: an unset bound or length is left out
        shaped = {key: value for key, value in config.items() if value is not None}
    return {schema.input_type: shaped}


def label_schema_message(schema: LabelSchema) -> dict[str, Any]:
    message: dict[str, Any] = {
        "schema_id": schema.schema_id,
        "experiment_id": schema.experiment.experiment_id,
        "name": schema.name,
        "type": schema.schema_type.upper(),
        "enable_comment": schema.enable_comment,
        "input": _input_message(schema),
        "created_at": datetime_to_ms(schema.created_at),
        "last_updated_at": datetime_to_ms(schema.updated_at),
        "is_default": schema.is_default,
    }
    if schema.instruction is not None:
        message["instruction"] = schema.instruction
    if schema.created_by is not None:
        message["created_by"] = schema.created_by
    return message


@rpc("mlflow.label_schemas.CreateLabelSchema")
def create_label_schema(call: ApiCall) -> dict[str, Any]:
    message = call.message
    schema_type = _TYPES.get(message["type"])
    if schema_type is None:
        raise InvalidParameterValue(
            f"Label schema `type` must be one of FEEDBACK or EXPECTATION; got {message['type']}."
        )
    schema = services.create_label_schema(
        experiment=queries.active_experiment(call.workspace, message["experiment_id"]),
        name=message["name"],
        schema_type=schema_type,
        schema_input=schema_input(message["input"]),
        instruction=message.get("instruction"),
        enable_comment=message.get("enable_comment", False),
        created_by=call.principal.username or None,
    )
    return {"label_schema": label_schema_message(schema)}


@rpc("mlflow.label_schemas.GetLabelSchema")
def get_label_schema(call: ApiCall) -> dict[str, Any]:
    return {
        "label_schema": label_schema_message(
            queries.get_label_schema(call.workspace, call.message["schema_id"])
        )
    }


@rpc("mlflow.label_schemas.GetLabelSchemaByName")
def get_label_schema_by_name(call: ApiCall) -> dict[str, Any]:
    experiment = queries.active_experiment(call.workspace, call.message["experiment_id"])
    return {
        "label_schema": label_schema_message(
            queries.get_label_schema_by_name(experiment, call.message["name"])
        )
    }


@rpc("mlflow.label_schemas.ListLabelSchemas")
def list_label_schemas(call: ApiCall) -> dict[str, Any]:
    message = call.message
    queries.check_page_request(message.get("max_results"), message.get("page_token"))
    experiment = queries.active_experiment(call.workspace, message["experiment_id"])
    # As MLflow's server: the first listing gives the experiment its default question.
    services.ensure_default_label_schema(experiment=experiment)
    page = queries.list_label_schemas(
        experiment, max_results=message.get("max_results"), page_token=message.get("page_token")
    )
    answer = page_message("label_schemas", [label_schema_message(s) for s in page.rows], None)
    return answer | {"next_page_token": page.next_page_token or ""}


@rpc("mlflow.label_schemas.UpdateLabelSchema")
def update_label_schema(call: ApiCall) -> dict[str, Any]:
    message = call.message
    raw_input = message.get("input")
    schema = services.update_label_schema(
        schema=queries.get_label_schema(call.workspace, message["schema_id"]),
        name=message.get("name"),
        instruction=message.get("instruction"),
        enable_comment=message.get("enable_comment"),
        schema_input=schema_input(raw_input) if raw_input is not None else None,
    )
    return {"label_schema": label_schema_message(schema)}


@rpc("mlflow.label_schemas.DeleteLabelSchema")
def delete_label_schema(call: ApiCall) -> dict[str, Any]:
    services.delete_label_schema(schema=queries.find_label_schema(call.workspace, call.message["schema_id"]))
    return {}
