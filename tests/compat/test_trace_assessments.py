"""Assessments of traces with the real client: log_feedback / log_expectation, get, update,
override and delete, assessments inside a trace's info, and search by feedback, as against
`mlflow server` 3.17.2."""

from __future__ import annotations

import pytest
import requests
from mlflow.exceptions import MlflowException


def _trace(mlflow, x: int) -> str:
    @mlflow.trace(name="answer")
    def answer(x):
        return x * 2

    answer(x)
    return mlflow.get_last_active_trace_id()


def test_feedback_and_expectations_come_back_with_the_trace(tracing):
    from mlflow.entities import AssessmentError, AssessmentSource

    tracing.set_experiment("assessed")
    trace_id = _trace(tracing, 1)
    span_id = tracing.get_trace(trace_id).data.spans[0].span_id

    feedback = tracing.log_feedback(
        trace_id=trace_id,
        name="quality",
        value=0.8,
        rationale="clear",
        source=AssessmentSource("HUMAN", "ana@example.com"),
        metadata={"round": "1"},
        span_id=span_id,
    )
    expectation = tracing.log_expectation(trace_id=trace_id, name="expected", value={"answer": [2, 4]})
    failed = tracing.log_feedback(
        trace_id=trace_id, name="judge", error=AssessmentError(error_code="TIMEOUT", error_message="slow")
    )

    assert feedback.assessment_id.startswith("a-")
    got = tracing.get_assessment(trace_id, feedback.assessment_id)
    assert (got.name, got.value, got.rationale, got.span_id) == ("quality", 0.8, "clear", span_id)
    assert (got.source.source_type, got.source.source_id) == ("HUMAN", "ana@example.com")
    assert got.metadata == {"round": "1"}
    assert got.valid is True
    assert tracing.get_assessment(trace_id, expectation.assessment_id).value == {"answer": [2, 4]}
    assert tracing.get_assessment(trace_id, failed.assessment_id).error.error_code == "TIMEOUT"

    assessments = {a.name: a for a in tracing.get_trace(trace_id).info.assessments}
    assert set(assessments) == {"quality", "expected", "judge"}
    assert assessments["expected"].value == {"answer": [2, 4]}


def test_an_override_marks_the_original_invalid_until_the_override_is_deleted(tracing):
    tracing.set_experiment("overridden")
    trace_id = _trace(tracing, 2)
    original = tracing.log_feedback(trace_id=trace_id, name="quality", value=0.9)

    override = tracing.override_feedback(
        trace_id=trace_id, assessment_id=original.assessment_id, value=0.1, rationale="wrong"
    )

    assert override.overrides == original.assessment_id
    assert tracing.get_assessment(trace_id, original.assessment_id).valid is False
    tracing.delete_assessment(trace_id=trace_id, assessment_id=override.assessment_id)
    assert tracing.get_assessment(trace_id, original.assessment_id).valid is True
    with pytest.raises(MlflowException, match="not found"):
        tracing.get_assessment(trace_id, override.assessment_id)


def test_update_changes_the_value_and_merges_metadata(tracing):
    from mlflow.entities import Feedback

    tracing.set_experiment("updated")
    trace_id = _trace(tracing, 3)
    feedback = tracing.log_feedback(trace_id=trace_id, name="tone", value="rude", metadata={"a": "1"})

    updated = tracing.update_assessment(
        trace_id=trace_id,
        assessment_id=feedback.assessment_id,
        assessment=Feedback(name="tone", value="polite", rationale="reread", metadata={"b": "2"}),
    )

    assert (updated.value, updated.rationale) == ("polite", "reread")
    assert tracing.get_assessment(trace_id, feedback.assessment_id).metadata == {"a": "1", "b": "2"}


def test_search_finds_traces_by_their_valid_feedback(tracing):
    experiment_id = tracing.set_experiment("searched").experiment_id
    good, bad, unjudged = _trace(tracing, 4), _trace(tracing, 5), _trace(tracing, 6)
    tracing.log_feedback(trace_id=good, name="correct", value=True)
    first = tracing.log_feedback(trace_id=bad, name="score", value=0.9)
    tracing.override_feedback(trace_id=bad, assessment_id=first.assessment_id, value=0.2)
    tracing.log_feedback(trace_id=good, name="score", value=0.7)

    def found(filter_string: str) -> set[str]:
        traces = tracing.search_traces(
            locations=[experiment_id], filter_string=filter_string, return_type="list"
        )
        return {trace.info.trace_id for trace in traces}

    assert found("feedback.correct = 'true'") == {good}
    assert found("feedback.score > 0.5") == {good}
    assert found("feedback.score < 0.5") == {bad}
    assert found("feedback.correct IS NULL") == {bad, unjudged}
    with pytest.raises(MlflowException, match="quoted string"):
        found("feedback.score = 0.2")


def test_bad_requests_answer_as_mlflow_does(tracing, tracking_uri):
    tracing.set_experiment("bad input")
    trace_id = _trace(tracing, 7)
    base = f"{tracking_uri}/api/3.0/mlflow/traces"

    missing = requests.get(f"{base}/{trace_id}/assessments/a-nope", timeout=10)
    no_trace = requests.post(
        f"{base}/tr-nope/assessments",
        json={
            "assessment": {
                "assessment_name": "x",
                "source": {"source_type": "HUMAN", "source_id": "u"},
                "feedback": {"value": 1},
            }
        },
        timeout=10,
    )
    no_value = requests.post(
        f"{base}/{trace_id}/assessments", json={"assessment": {"assessment_name": "x"}}, timeout=10
    )
    no_overridden = requests.post(
        f"{base}/{trace_id}/assessments",
        json={
            "assessment": {
                "assessment_name": "x",
                "source": {"source_type": "HUMAN", "source_id": "u"},
                "feedback": {"value": 1},
                "overrides": "a-nope",
            }
        },
        timeout=10,
    )
    deleted_nothing = requests.delete(f"{base}/{trace_id}/assessments/a-nope", timeout=10)

    assert (missing.status_code, missing.json()["message"]) == (
        404,
        f"Assessment with ID 'a-nope' not found for trace '{trace_id}'",
    )
    assert (no_trace.status_code, no_trace.json()["message"]) == (404, "Trace with ID 'tr-nope' not found.")
    assert (no_value.status_code, no_value.json()["message"]) == (400, "Unknown assessment type: None")
    assert no_overridden.status_code == 404
    assert (deleted_nothing.status_code, deleted_nothing.json()) == (200, {})


@pytest.mark.parametrize(
    "assessment",
    [
        {
            "assessment_name": "x",
            "feedback": {"value": 1},
            "source": {"source_type": "ROBOT", "source_id": "u"},
        },
        {
            "assessment_name": "x" * 300,
            "feedback": {"value": 1},
            "source": {"source_type": "HUMAN", "source_id": "u"},
        },
        {
            "assessment_name": "x",
            "expectation": {"serialized_value": {"serialization_format": "XML", "value": "<a/>"}},
            "source": {"source_type": "HUMAN", "source_id": "u"},
        },
        {
            "assessment_name": "x",
            "expectation": {"serialized_value": {"serialization_format": "JSON_FORMAT", "value": "{"}},
            "source": {"source_type": "HUMAN", "source_id": "u"},
        },
        {
            "assessment_name": "x",
            "feedback": {"value": 1},
            "source": {"source_type": "HUMAN", "source_id": "u"},
            "create_time": "yesterday",
        },
        {
            "assessment_name": "x",
            "feedback": {"value": 1},
            "source": {"source_type": "HUMAN", "source_id": "u"},
            "span_id": "s" * 100,
        },
        {"assessment_name": "x", "feedback": "oops", "source": {"source_type": "HUMAN", "source_id": "u"}},
        {
            "assessment_name": "x",
            "feedback": {"value": 1},
            "metadata": "oops",
            "source": {"source_type": "HUMAN", "source_id": "u"},
        },
    ],
)
def test_hostile_assessments_are_refused_without_a_server_error(tracing, tracking_uri, assessment):
    tracing.set_experiment("hostile")
    trace_id = _trace(tracing, 8)

    answer = requests.post(
        f"{tracking_uri}/api/3.0/mlflow/traces/{trace_id}/assessments",
        json={"assessment": assessment},
        timeout=10,
    )

    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_prompt_versions_linked_to_a_trace_find_it(tracing, tracking_uri):
    from mlflow.entities.model_registry import PromptVersion
    from mlflow.tracing.client import TracingClient

    experiment_id = tracing.set_experiment("prompted").experiment_id
    by_rest, by_client, other = _trace(tracing, 9), _trace(tracing, 10), _trace(tracing, 11)
    url = f"{tracking_uri}/api/2.0/mlflow/traces/link-prompts"

    linked = requests.post(
        url, json={"trace_id": by_rest, "prompt_versions": [{"name": "qa", "version": "2"}]}, timeout=10
    )
    missing = requests.post(
        url, json={"trace_id": "tr-nope", "prompt_versions": [{"name": "qa", "version": "2"}]}, timeout=10
    )
    TracingClient().link_prompt_versions_to_trace(
        by_client, [PromptVersion(name="qa", version=2, template="x")]
    )

    assert linked.status_code == 200 and linked.json() == {}
    assert (missing.status_code, missing.json()["message"]) == (404, "Trace with ID 'tr-nope' not found.")
    found = tracing.search_traces(
        locations=[experiment_id], filter_string="prompt = 'qa/2'", return_type="list"
    )
    assert {trace.info.trace_id for trace in found} == {by_rest, by_client}
    assert other not in {trace.info.trace_id for trace in found}
