"""Writing assessments of traces: create (overriding another, which becomes invalid), update,
delete (bringing back the one it overrode). Semantics of MLflow 3.17.2's SqlAlchemyStore."""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import Assessment, Trace
from tracking.models.assessments import ASSESSMENT_TYPES, EXPECTATION, FEEDBACK, SOURCE_TYPES

# The metadata key a client records the run an assessment was logged in (MLflow's run_id).
SOURCE_RUN_ID_METADATA = "mlflow.assessment.sourceRunId"
MAX_NAME_CHARS = 250
MAX_VALUE_CHARS = 1_000_000


@dataclass
class AssessmentInput:
    """What CreateAssessment says, already parsed; `value` is the JSON value."""

    name: str
    assessment_type: str
    value: Any
    source_type: str
    source_id: str | None = None
    error: dict[str, str] | None = None
    span_id: str | None = None
    rationale: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    overrides: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


def aggregate(value: Any) -> tuple[float | None, bool]:
    """The value as searches and metrics read it: finite numbers are numeric; booleans and
    'yes'/'no' count as 1 and 0 without being numeric (as MLflow's `assessment_aggregate`)."""
    if isinstance(value, bool):
        return (1.0 if value else 0.0), False
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            return None, False
        return (number, True) if math.isfinite(number) else (None, False)
    if isinstance(value, str) and value.strip().lower() in ("yes", "no"):
        return (1.0 if value.strip().lower() == "yes" else 0.0), False
    return None, False


def _value_json(value: Any) -> str:
    try:
        text = json.dumps(value, allow_nan=False)
    except ValueError:
        raise InvalidParameterValue("An assessment's value must be finite JSON.") from None
    if len(text) > MAX_VALUE_CHARS:
        raise InvalidParameterValue(f"An assessment's value may have at most {MAX_VALUE_CHARS} characters.")
    return text


def _check(item: AssessmentInput) -> None:
    if item.assessment_type not in ASSESSMENT_TYPES:
        raise InvalidParameterValue(f"Unknown assessment type: {item.assessment_type}")
    if not item.name or len(item.name) > MAX_NAME_CHARS:
        raise InvalidParameterValue(
            f"Invalid assessment name {item.name[:300]!r}: it must have 1 to {MAX_NAME_CHARS} characters."
        )
    if item.source_type not in SOURCE_TYPES:
        raise InvalidParameterValue(f"Invalid assessment source type {item.source_type!r}.")
    for text, limit, what in (
        (item.source_id, 250, "source_id"),
        (item.span_id, 50, "span_id"),
        (item.overrides, 50, "overrides"),
    ):
        if text is not None and len(text) > limit:
            raise InvalidParameterValue(f"The assessment's {what} may have at most {limit} characters.")


def _metadata_json(metadata: dict[str, str]) -> str | None:
    return json.dumps(metadata) if metadata else None


def _run_id(metadata: dict[str, str]) -> str | None:
    run_id = metadata.get(SOURCE_RUN_ID_METADATA)
    return run_id[:32] if run_id else None


def create_assessment(*, trace: Trace, item: AssessmentInput) -> Assessment:
    """Records an assessment of the trace; the one it overrides (of the same trace) turns invalid."""
    _check(item)
    now = timezone.now()
    aggregate_value, is_numeric = aggregate(item.value)
    with transaction.atomic():
        if item.overrides:
            overridden = Assessment.objects.filter(trace=trace, assessment_id=item.overrides).update(
                valid=False
            )
            if not overridden:
                raise ResourceDoesNotExist(
                    f"Assessment with ID '{item.overrides}' not found for trace '{trace.trace_id}'"
                )
        return Assessment.objects.create(
            trace=trace,
            assessment_id=f"a-{uuid.uuid4().hex}",
            name=item.name,
            assessment_type=item.assessment_type,
            value=_value_json(item.value),
            error=json.dumps(item.error) if item.error else None,
            aggregate_value=aggregate_value,
            is_numeric_value=is_numeric,
            source_type=item.source_type,
            source_id=item.source_id,
            run_id=_run_id(item.metadata),
            span_id=item.span_id or None,
            rationale=item.rationale,
            overrides=item.overrides or None,
            valid=True,
            metadata=_metadata_json(item.metadata),
            created_at=item.created_at or now,
            updated_at=item.updated_at or item.created_at or now,
        )


@dataclass
class AssessmentChange:
    """The fields UpdateAssessment's mask names; None leaves a field as it is."""

    name: str | None = None
    feedback: tuple[Any, dict[str, str] | None] | None = None  # (value, error)
    expectation: Any = None
    has_expectation: bool = False
    rationale: str | None = None
    metadata: dict[str, str] | None = None


def update_assessment(*, assessment: Assessment, change: AssessmentChange) -> Assessment:
    """Changes an assessment in place: its source, span, validity and what it overrides stay;
    metadata is merged (the new keys win)."""
    if change.has_expectation and change.feedback is not None:
        raise InvalidParameterValue("Cannot specify both `expectation` and `feedback` parameters.")
    if change.has_expectation and assessment.assessment_type != EXPECTATION:
        raise InvalidParameterValue("Cannot update expectation value on a Feedback assessment.")
    if change.feedback is not None and assessment.assessment_type != FEEDBACK:
        raise InvalidParameterValue("Cannot update feedback value on an Expectation assessment.")
    if change.name is not None:
        if not change.name or len(change.name) > MAX_NAME_CHARS:
            raise InvalidParameterValue(f"An assessment name must have 1 to {MAX_NAME_CHARS} characters.")
        assessment.name = change.name
    new_value: Any = json.loads(assessment.value)
    if change.has_expectation:
        new_value = change.expectation
    if change.feedback is not None:
        new_value, error = change.feedback
        assessment.error = json.dumps(error) if error else None
    assessment.value = _value_json(new_value)
    assessment.aggregate_value, assessment.is_numeric_value = aggregate(new_value)
    if change.rationale is not None and assessment.assessment_type == FEEDBACK:
        assessment.rationale = change.rationale
    if change.metadata:
        merged = {**(json.loads(assessment.metadata) if assessment.metadata else {}), **change.metadata}
        assessment.metadata = _metadata_json(merged)
    assessment.updated_at = timezone.now()
    assessment.save()
    return assessment


def delete_assessment(*, trace: Trace, assessment_id: str) -> None:
    """Deletes the assessment when it is there (deleting a missing one is no error, as in MLflow);
    the one it overrode is valid again."""
    with transaction.atomic():
        doomed = (
            Assessment.objects.select_for_update().filter(trace=trace, assessment_id=assessment_id).first()
        )
        if doomed is None:
            return
        if doomed.overrides:
            Assessment.objects.filter(trace=trace, assessment_id=doomed.overrides).update(valid=True)
        doomed.delete()
