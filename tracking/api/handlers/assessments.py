"""Assessments of traces (MLflow 3): create, get, update, delete; and their shape inside a
trace's info."""

from __future__ import annotations

import json
from typing import Any

from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import Assessment
from tracking.models.assessments import EXPECTATION, FEEDBACK, ISSUE
from tracking.queries import assessments as queries
from tracking.queries import traces as trace_queries
from tracking.services import assessments as services
from tracking.services.assessments import AssessmentChange, AssessmentInput

from ..router import ApiCall, rpc
from ..timestamps import parse_wire_timestamp, wire_timestamp

JSON_FORMAT = "JSON_FORMAT"

# -- shapes --------------------------------------------------------------------------------------


def _expectation_json(value: Any) -> dict[str, Any]:
    # The client sends lists and objects JSON-encoded (serialized_value); scalars as they are.
    if isinstance(value, dict | list):
        return {"serialized_value": {"serialization_format": JSON_FORMAT, "value": json.dumps(value)}}
    return {"value": value}


def assessment_json(assessment: Assessment) -> dict[str, Any]:
    """An assessment as MLflow's server writes it (fields in its order, absent ones left out)."""
    shaped: dict[str, Any] = {
        "assessment_id": assessment.assessment_id,
        "assessment_name": assessment.name,
        "trace_id": assessment.trace.trace_id,
    }
    if assessment.span_id is not None:
        shaped["span_id"] = assessment.span_id
    source: dict[str, Any] = {"source_type": assessment.source_type}
    if assessment.source_id is not None:
        source["source_id"] = assessment.source_id
    shaped["source"] = source
    shaped["create_time"] = wire_timestamp(assessment.created_at)
    shaped["last_update_time"] = wire_timestamp(assessment.updated_at)
    value = json.loads(assessment.value)
    if assessment.assessment_type == FEEDBACK:
        feedback: dict[str, Any] = {"value": value}
        if assessment.error:
            feedback["error"] = json.loads(assessment.error)
        shaped["feedback"] = feedback
    elif assessment.assessment_type == ISSUE:
        shaped["issue"] = value
    else:
        shaped["expectation"] = _expectation_json(value)
    if assessment.rationale is not None and assessment.rationale != "":
        shaped["rationale"] = assessment.rationale
    if assessment.metadata:
        shaped["metadata"] = json.loads(assessment.metadata)
    if assessment.overrides:
        shaped["overrides"] = assessment.overrides
    shaped["valid"] = assessment.valid
    return shaped


# -- parsing -------------------------------------------------------------------------------------


def _as_proto_value(value: Any) -> Any:
    """A JSON value as a protobuf Value carries it: every number a double."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list):
        return [_as_proto_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _as_proto_value(item) for key, item in value.items()}
    raise InvalidParameterValue("Invalid assessment value.")


def _error(raw: Any) -> dict[str, str] | None:
    if not raw:
        return None
    error = {key: raw[key] for key in ("error_code", "error_message", "stack_trace") if raw.get(key)}
    return error or None


def _expectation_value(raw: dict[str, Any]) -> Any:
    serialized = raw.get("serialized_value")
    if serialized:
        if serialized.get("serialization_format") != JSON_FORMAT:
            raise InvalidParameterValue(
                f"Unknown serialization format: {serialized.get('serialization_format')}. "
                "Only JSON_FORMAT is supported."
            )
        try:
            return json.loads(serialized.get("value") or "")
        except ValueError:
            raise InvalidParameterValue("The expectation's serialized_value is not JSON.") from None
    return _as_proto_value(raw.get("value"))


def _kind_and_value(raw: dict[str, Any]) -> tuple[str, Any, dict[str, str] | None]:
    if raw.get("expectation") is not None:
        return EXPECTATION, _expectation_value(raw["expectation"]), None
    if raw.get("feedback") is not None:
        feedback = raw["feedback"]
        return FEEDBACK, _as_proto_value(feedback.get("value")), _error(feedback.get("error"))
    if raw.get("issue") is not None:
        # An issue reference: the assessment's name is the issue's id (MLflow's IssueReference).
        return ISSUE, {"issue_name": raw["issue"].get("issue_name", "")}, None
    raise InvalidParameterValue("Unknown assessment type: None")


def _metadata(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if isinstance(raw, list):  # proto JSON of a map may also come as [{"key":..,"value":..}]
        raw = {item.get("key"): item.get("value") for item in raw if isinstance(item, dict)}
    if not isinstance(raw, dict):
        raise InvalidParameterValue("Invalid value for parameter 'metadata': expected a map of strings.")
    return {str(key): value if isinstance(value, str) else json.dumps(value) for key, value in raw.items()}


def _optional_time(raw: Any, name: str):
    if raw is None:
        return None
    return parse_wire_timestamp(raw, name)


def _update_paths(raw: Any) -> list[str]:
    # A FieldMask in JSON is "a,b" (camelCase or snake_case); some callers send {"paths": [...]}.
    if isinstance(raw, dict):
        raw = raw.get("paths") or []
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, list) or not all(isinstance(path, str) for path in raw):
        raise InvalidParameterValue("Invalid value for parameter 'update_mask'.")
    camel = {"assessmentName": "assessment_name"}
    return [camel.get(path.strip(), path.strip()) for path in raw]


# -- RPCs ----------------------------------------------------------------------------------------


def _addressed(call: ApiCall) -> Assessment:
    # Every RPC but CreateAssessment names the trace and the assessment in its path.
    return queries.get_assessment(call.workspace, call.path_args["trace_id"], call.path_args["assessment_id"])


@rpc("mlflow.CreateAssessment")
def create_assessment(call: ApiCall) -> dict[str, Any]:
    raw = call.message["assessment"]
    kind, value, error = _kind_and_value(raw)
    source = raw.get("source") or {}
    trace = trace_queries.find_trace(call.workspace, call.path_args.get("trace_id", ""))
    if trace is None:
        trace_id = call.path_args.get("trace_id", "")
        raise ResourceDoesNotExist(f"Trace with ID '{trace_id}' not found.")
    created = services.create_assessment(
        trace=trace,
        item=AssessmentInput(
            name=raw.get("assessment_name") or "",
            assessment_type=kind,
            value=value,
            error=error,
            source_type=source.get("source_type") or "SOURCE_TYPE_UNSPECIFIED",
            source_id=source.get("source_id") or None,
            span_id=raw.get("span_id") or None,
            rationale=raw.get("rationale"),
            metadata=_metadata(raw.get("metadata")),
            overrides=raw.get("overrides") or None,
            created_at=_optional_time(raw.get("create_time"), "create_time"),
            updated_at=_optional_time(raw.get("last_update_time"), "last_update_time"),
        ),
    )
    created.trace = trace
    return {"assessment": assessment_json(created)}


@rpc("mlflow.GetAssessmentRequest")
def get_assessment(call: ApiCall) -> dict[str, Any]:
    return {"assessment": assessment_json(_addressed(call))}


@rpc("mlflow.UpdateAssessment")
def update_assessment(call: ApiCall) -> dict[str, Any]:
    message = call.message
    assessment = _addressed(call)
    raw = message["assessment"]
    change = AssessmentChange()
    for path in _update_paths(message.get("update_mask")):
        if path == "assessment_name":
            change.name = raw.get("assessment_name") or ""
        elif path == "expectation":
            change.has_expectation = True
            change.expectation = _expectation_value(raw.get("expectation") or {})
        elif path == "feedback":
            feedback = raw.get("feedback") or {}
            change.feedback = (_as_proto_value(feedback.get("value")), _error(feedback.get("error")))
        elif path == "rationale":
            change.rationale = raw.get("rationale") or ""
        elif path == "metadata":
            change.metadata = _metadata(raw.get("metadata"))
    return {"assessment": assessment_json(services.update_assessment(assessment=assessment, change=change))}


@rpc("mlflow.DeleteAssessment")
def delete_assessment(call: ApiCall) -> dict[str, Any]:
    trace = trace_queries.find_trace(call.workspace, call.path_args["trace_id"])
    if trace is not None:  # deleting what is not there is no error, as in MLflow
        services.delete_assessment(trace=trace, assessment_id=call.path_args["assessment_id"])
    return {}
