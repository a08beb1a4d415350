"""Label schemas (MLflow 3 GenAI): the questions of an experiment's reviews, checked as MLflow's
server checks them (tracking.models.label_schemas).

A schema's input is its widget, `(kind, settings)`: `pass_fail` (two distinct labels), `categorical`
(1 to 10 distinct options, single or multiple choice), `numeric` (optional bounds, the lower one
below the upper), `text` (an optional maximum length). Its type and its kind of input are fixed
once it exists, so answers already given keep their meaning.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from tracking.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from tracking.models import Experiment, LabelSchema
from tracking.models.label_schemas import FEEDBACK, SCHEMA_TYPES
from tracking.times import now_to_the_ms

MAX_NAME_LENGTH = 250
MAX_INSTRUCTION_LENGTH = 1000
MAX_LABEL_LENGTH = 64
MAX_OPTIONS = 10
MAX_OPTION_LENGTH = 64
# The experiment's protected default question: made by the first listing, neither edited nor deleted.
DEFAULT_NAME = "Feedback"
DEFAULT_INSTRUCTION = "Share any feedback on this trace."


@dataclass(frozen=True)
class SchemaInput:
    """A schema's widget: its kind (tracking.models.label_schemas.INPUT_TYPES) and settings."""

    kind: str
    config: dict[str, Any]


def _check_name(name: str) -> str:
    if not name:
        raise InvalidParameterValue(f"Label schema `name` must be a non-empty string; got {name!r}.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidParameterValue(
            f"Label schema `name` must be at most {MAX_NAME_LENGTH} characters; got {len(name)}."
        )
    if name.strip().lower() == DEFAULT_NAME.lower():
        raise InvalidParameterValue(
            f"`{name}` is reserved for the experiment's default question and cannot be used for another "
            "label schema."
        )
    return name


def _check_instruction(instruction: str | None) -> str | None:
    if instruction is not None and len(instruction) > MAX_INSTRUCTION_LENGTH:
        raise InvalidParameterValue(
            f"Label schema `instruction` must be at most {MAX_INSTRUCTION_LENGTH} characters; "
            f"got {len(instruction)}."
        )
    return instruction


def _check_text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidParameterValue(f"`{field}` must be a non-empty string; got {value!r}.")
    if len(value) > limit:
        raise InvalidParameterValue(f"`{field}` must be at most {limit} characters; got {len(value)}.")
    return value


def check_input(schema_input: SchemaInput) -> SchemaInput:
    """The input with its settings checked (MLflow's rules), or INVALID_PARAMETER_VALUE."""
    kind, config = schema_input.kind, schema_input.config
    if kind == "pass_fail":
        positive = _check_text(config.get("positive_label"), "InputPassFail.positive_label", MAX_LABEL_LENGTH)
        negative = _check_text(config.get("negative_label"), "InputPassFail.negative_label", MAX_LABEL_LENGTH)
        if positive == negative:
            raise InvalidParameterValue(
                "`InputPassFail.positive_label` and `negative_label` must be distinct; "
                f"got {positive!r} for both."
            )
        return SchemaInput(kind, {"positive_label": positive, "negative_label": negative})
    if kind == "categorical":
        options = config.get("options") or []
        if not options:
            raise InvalidParameterValue(
                f"`InputCategorical.options` must be a non-empty list; got {options!r}."
            )
        if len(options) > MAX_OPTIONS:
            raise InvalidParameterValue(
                f"`InputCategorical.options` must have at most {MAX_OPTIONS} entries; got {len(options)}."
            )
        for option in options:
            _check_text(option, "InputCategorical.options", MAX_OPTION_LENGTH)
        if len(set(options)) != len(options):
            twice = next(o for o in options if options.count(o) > 1)
            raise InvalidParameterValue(
                f"`InputCategorical.options` must be deduplicated; {twice!r} appears twice."
            )
        return SchemaInput(kind, {"options": list(options), "multi_select": bool(config.get("multi_select"))})
    if kind == "numeric":
        low, high = config.get("min_value"), config.get("max_value")
        for field, bound in (("min_value", low), ("max_value", high)):
            if bound is not None and not math.isfinite(bound):
                raise InvalidParameterValue(f"`InputNumeric.{field}` must be a finite number; got {bound}.")
        if low is not None and high is not None and low >= high:
            raise InvalidParameterValue(
                f"`InputNumeric.min_value` must be strictly less than `max_value`; got min={low}, max={high}."
            )
        return SchemaInput(kind, {"min_value": low, "max_value": high})
    if kind == "text":
        max_length = config.get("max_length")
        if max_length is not None and max_length < 1:
            raise InvalidParameterValue(f"`InputText.max_length` must be at least 1; got {max_length}.")
        return SchemaInput(kind, {"max_length": max_length})
    raise InvalidParameterValue(
        "Label schema `input` must have exactly one of `pass_fail`, `categorical`, `numeric`, or `text` set."
    )


def check_active(experiment: Experiment) -> None:
    if not experiment.is_active:
        raise ResourceDoesNotExist(f"No Experiment with id={experiment.experiment_id} exists")


def _already_exists(name: str, experiment: Experiment) -> ResourceAlreadyExists:
    return ResourceAlreadyExists(
        f"Label schema with name '{name}' already exists for experiment '{experiment.experiment_id}'."
    )


def create_label_schema(
    *,
    experiment: Experiment,
    name: str,
    schema_type: str,
    schema_input: SchemaInput,
    instruction: str | None = None,
    enable_comment: bool = False,
    created_by: str | None = None,
) -> LabelSchema:
    _check_name(name)
    if schema_type not in SCHEMA_TYPES:
        raise InvalidParameterValue(
            f"Label schema `type` must be one of FEEDBACK or EXPECTATION; got {schema_type!r}."
        )
    _check_instruction(instruction)
    checked = check_input(schema_input)
    check_active(experiment)
    now = now_to_the_ms()
    try:
        with transaction.atomic():
            return LabelSchema.objects.create(
                schema_id=f"ls-{uuid.uuid4().hex}",
                experiment=experiment,
                name=name,
                schema_type=schema_type,
                instruction=instruction,
                enable_comment=enable_comment,
                input_type=checked.kind,
                input_config=checked.config,
                created_by=created_by or None,
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:
        raise _already_exists(name, experiment) from None


def update_label_schema(
    *,
    schema: LabelSchema,
    name: str | None = None,
    instruction: str | None = None,
    enable_comment: bool | None = None,
    schema_input: SchemaInput | None = None,
) -> LabelSchema:
    """Changes the fields given (None leaves one as it is); the input's kind, and a choice's being
    single or multiple, stay as they were made."""
    if schema.is_default:
        raise InvalidParameterValue("The experiment's default question cannot be edited.")
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = _check_name(name)
    if instruction is not None:
        changes["instruction"] = _check_instruction(instruction)
    if enable_comment is not None:
        changes["enable_comment"] = enable_comment
    if schema_input is not None:
        checked = check_input(schema_input)
        if checked.kind != schema.input_type:
            raise InvalidParameterValue(
                "A label schema's input type cannot be changed after creation "
                f"(existing: {schema.input_type}, got: {checked.kind})."
            )
        if checked.kind == "categorical" and checked.config["multi_select"] != bool(
            schema.input_config.get("multi_select")
        ):
            raise InvalidParameterValue("`InputCategorical.multi_select` cannot be changed after creation.")
        changes["input_config"] = checked.config
    changes["updated_at"] = now_to_the_ms()
    try:
        with transaction.atomic():
            LabelSchema.objects.filter(pk=schema.pk).update(**changes)
    except IntegrityError:
        raise _already_exists(changes["name"], schema.experiment) from None
    for field, value in changes.items():
        setattr(schema, field, value)
    return schema


def delete_label_schema(*, schema: LabelSchema | None) -> None:
    """Deletes the schema (no schema: nothing to do, as in MLflow); it leaves the custom queues
    that asked it, and the assessments written under its name stay."""
    if schema is None:
        return
    if schema.is_default:
        raise InvalidParameterValue("The experiment's default question cannot be deleted.")
    schema.delete()


def ensure_default_label_schema(*, experiment: Experiment) -> None:
    """Makes the experiment's default question if it has none (one INSERT, racing ones ignored)."""
    if LabelSchema.objects.filter(experiment=experiment, is_default=True).exists():
        return
    now = now_to_the_ms()
    LabelSchema.objects.bulk_create(
        [
            LabelSchema(
                schema_id=f"ls-{uuid.uuid4().hex}",
                experiment=experiment,
                name=DEFAULT_NAME,
                schema_type=FEEDBACK,
                instruction=DEFAULT_INSTRUCTION,
                enable_comment=False,
                input_type="text",
                input_config={"max_length": None},
                created_at=now,
                updated_at=now,
                is_default=True,
            )
        ],
        ignore_conflicts=True,
    )
