"""Assessments: overriding, updating, deleting, the numeric reading of values, and their end with
their trace."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import Assessment
from tracking.queries.assessments import get_assessment
from tracking.services.assessments import (
    AssessmentChange,
    AssessmentInput,
    aggregate,
    create_assessment,
    delete_assessment,
    update_assessment,
)
from tracking.services.experiments import create_experiment
from tracking.services.traces import TraceInfoInput, delete_traces, start_trace

pytestmark = pytest.mark.django_db
TRACE_ID = "tr-" + "ef" * 16


@pytest.fixture
def trace(default_workspace):
    experiment = create_experiment(workspace=default_workspace, name="judged")
    return start_trace(
        workspace=default_workspace,
        experiment=experiment,
        info=TraceInfoInput(
            trace_id=TRACE_ID,
            request_time=datetime(2026, 1, 1, tzinfo=UTC),
            execution_duration_ms=1,
            state="OK",
        ),
    )


def feedback(trace, value=0.5, **fields) -> Assessment:
    item = AssessmentInput(
        name="quality", assessment_type="feedback", value=value, source_type="HUMAN", **fields
    )
    return create_assessment(trace=trace, item=item)


def test_an_override_invalidates_the_original_and_its_deletion_restores_it(trace):
    original = feedback(trace)
    override = feedback(trace, 0.1, overrides=original.assessment_id)

    original.refresh_from_db()
    assert (original.valid, override.valid, override.overrides) == (False, True, original.assessment_id)
    delete_assessment(trace=trace, assessment_id=override.assessment_id)
    original.refresh_from_db()
    assert original.valid is True


def test_overriding_an_assessment_of_another_trace_is_not_found(trace):
    with pytest.raises(ResourceDoesNotExist, match="Assessment with ID 'a-elsewhere' not found"):
        feedback(trace, overrides="a-elsewhere")
    assert not Assessment.objects.exists()


def test_an_update_keeps_source_and_span_and_merges_metadata(trace):
    original = feedback(trace, span_id="00000000000000aa", metadata={"a": "1"})

    updated = update_assessment(
        assessment=original,
        change=AssessmentChange(feedback=(True, None), rationale="why", metadata={"b": "2"}),
    )

    assert (updated.value, updated.aggregate_value, updated.is_numeric_value) == ("true", 1.0, False)
    assert (updated.span_id, updated.source_type, updated.rationale) == ("00000000000000aa", "HUMAN", "why")
    assert updated.metadata == '{"a": "1", "b": "2"}'


def test_a_feedback_cannot_take_an_expectation_value(trace):
    with pytest.raises(InvalidParameterValue, match="Cannot update expectation value on a Feedback"):
        update_assessment(
            assessment=feedback(trace), change=AssessmentChange(has_expectation=True, expectation=1.0)
        )


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3.0, (3.0, True)), (True, (1.0, False)), (" Yes ", (1.0, False)), ("no", (0.0, False)),
     ("maybe", (None, False)), (float("inf"), (None, False)), ({"a": 1}, (None, False))],
)  # fmt: skip
def test_values_are_read_as_numbers_as_mlflow_reads_them(value, expected):
    assert aggregate(value) == expected


def test_a_missing_trace_or_assessment_is_named_in_the_error(trace, default_workspace):
    with pytest.raises(ResourceDoesNotExist, match="Trace with request_id 'tr-nope' not found"):
        get_assessment(default_workspace, "tr-nope", "a-1")
    with pytest.raises(
        ResourceDoesNotExist, match=f"Assessment with ID 'a-1' not found for trace '{TRACE_ID}'"
    ):
        get_assessment(default_workspace, TRACE_ID, "a-1")


def test_deleting_a_trace_deletes_its_assessments(trace):
    feedback(trace)

    delete_traces(workspace=trace.workspace, experiment=trace.experiment, trace_ids=[TRACE_ID])

    assert not Assessment.objects.exists()
