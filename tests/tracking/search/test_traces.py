"""Trace search: MLflow's `search_traces` filter and order_by, parsed, then run over traces made
through the services (spans by OTLP records, info by StartTraceV3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tracking.errors import InvalidParameterValue
from tracking.models import TraceMetadata
from tracking.queries.traces import search_traces
from tracking.search.traces import TraceComparison, parse_trace_filter
from tracking.services.assessments import AssessmentInput, create_assessment
from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run
from tracking.services.traces import (
    SpanRecord,
    TraceInfoInput,
    link_traces_to_run,
    log_spans,
    set_trace_tag,
    start_trace,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("trace.status = 'OK'", [TraceComparison("attribute", "status", "=", "OK")]),
        ("attributes.timestamp > 5", [TraceComparison("attribute", "timestamp_ms", ">", 5)]),
        ("execution_time_ms <= 10.5", [TraceComparison("attribute", "execution_time_ms", "<=", 10.5)]),
        ("trace.name = 'a'", [TraceComparison("tag", "mlflow.traceName", "=", "a")]),
        ("trace.run_id = 'r1'", [TraceComparison("run", "mlflow.sourceRun", "=", "r1")]),
        ("trace.run_id != 'r1'", [TraceComparison("metadata", "mlflow.sourceRun", "!=", "r1")]),
        ("trace.prompt = 'qa/2'", [TraceComparison("prompt", "mlflow.linkedPrompts", "=", "qa/2")]),
        ("trace.text ILIKE '%x%'", [TraceComparison("text", "text", "ILIKE", "%x%")]),
        ("tags.`a.b` != 'c'", [TraceComparison("tag", "a.b", "!=", "c")]),
        ("tags.mlflow.user LIKE 'a%'", [TraceComparison("tag", "mlflow.user", "LIKE", "a%")]),
        ("metadata.k IS NULL", [TraceComparison("metadata", "k", "IS NULL", None)]),
        ("request_metadata.k IS NOT NULL", [TraceComparison("metadata", "k", "IS NOT NULL", None)]),
        ("span.type NOT IN ('LLM')", [TraceComparison("span", "type", "NOT IN", ("LLM",))]),
        ("span.attributes.model = 'gpt'", [TraceComparison("span", "attributes.model", "=", "gpt")]),
        ("feedback.rating >= 3", [TraceComparison("feedback", "rating", ">=", 3.0)]),
        (
            "trace.status = 'OK' and span.name = 'a'",
            [TraceComparison("attribute", "status", "=", "OK"), TraceComparison("span", "name", "=", "a")],
        ),
    ],
)
def test_it_parses_mlflow_trace_filters(text, expected):
    assert parse_trace_filter(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "trace.status =",
        "trace.status = OK",
        "trace.status = 'OK' OR trace.status = 'ERROR'",
        "(trace.status = 'OK')",
        "nope.x = 'a'",
        "trace.nope = 'a'",
        "trace.timestamp_ms > 'a'",
        "trace.status > 'a'",
        "trace.name IN ('a')",
        "tags.a > 'b'",
        "tags.a = 1",
        "metadata.a IN ('b')",
        "span.content = 'x'",
        "span.color = 'red'",
        "span.attributes. = 'x'",
        "trace.text = 'x'",
        "trace.run_id IN ('a')",
        "trace.prompt = 'qa'",
        "trace.prompt != 'qa/1'",
        "issue.id != 'a'",
        "trace.status IN 'OK'",
        "trace.status IN ('OK'",
        "trace.status = 'OK' AND",
        "'unquoted",
        " AND ".join(["trace.status = 'OK'"] * 41),
    ],
)
def test_it_rejects_what_mlflow_rejects_and_what_cannot_parse(text):
    with pytest.raises(InvalidParameterValue):
        parse_trace_filter(text)


# --- searching -------------------------------------------------------------------------------


def _span(
    trace_id: str, index: int, *, parent: int | None, name: str, span_type: str, status: str, **attributes
):
    start = (T0_MS + index) * 1_000_000
    encoded = {key: json.dumps(value) for key, value in attributes.items()}
    return SpanRecord(
        trace_id=trace_id,
        span_id=f"{index:016x}",
        parent_span_id=None if parent is None else f"{parent:016x}",
        name=name,
        span_type=span_type,
        status=status,
        start_time_ns=start,
        end_time_ns=start + 5_000_000,
        content={"name": name, "attributes": encoded},
    )


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="traced")


@pytest.fixture
def traces(experiment):
    """Three traces a minute apart: an answer about refunds, a failed one, one with a tag."""
    workspace = experiment.workspace
    made = []
    for number, (state, question, model) in enumerate(
        [("OK", "refund please", "gpt-a"), ("ERROR", "hello", "gpt-b"), ("OK", "shipping", "gpt-a")]
    ):
        trace_id = f"tr-{number:032x}"
        status = "ERROR" if state == "ERROR" else "OK"
        log_spans(
            workspace=workspace,
            experiment=experiment,
            spans=[
                _span(trace_id, 0, parent=None, name=f"answer-{number}", span_type="CHAIN", status=status,
                      **{"mlflow.spanInputs": {"q": question}}),
                _span(trace_id, 1, parent=0, name="llm", span_type="LLM", status="OK", model=model),
            ],
        )  # fmt: skip
        made.append(
            start_trace(
                workspace=workspace,
                experiment=experiment,
                info=TraceInfoInput(
                    trace_id=trace_id,
                    request_time=T0 + timedelta(minutes=number),
                    execution_duration_ms=100 * (number + 1),
                    state=state,
                    metadata={"mlflow.user": "ana" if number < 2 else "bo"},
                    tags={"mlflow.traceName": f"answer-{number}"},
                ),
            )
        )
    set_trace_tag(trace=made[2], key="reviewed", value="yes")
    return made


def _ids(experiment, **kwargs) -> list[str]:
    records, _ = search_traces(experiment.workspace, [experiment], **kwargs)
    return [record.trace.trace_id for record in records]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        (None, [2, 1, 0]),
        ("trace.status = 'OK'", [2, 0]),
        ("trace.status != 'OK'", [1]),
        ("trace.status IN ('ERROR', 'IN_PROGRESS')", [1]),
        (f"trace.timestamp_ms >= {T0_MS + 60_000}", [2, 1]),
        (f"trace.timestamp = {T0_MS}", [0]),
        ("trace.execution_time_ms > 150", [2, 1]),
        (f"trace.end_time_ms = {T0_MS + 60_000 + 200}", [1]),
        (f"trace.end_time > {T0_MS + 60_000 + 200}", [2]),
        ("trace.name = 'answer-1'", [1]),
        ("trace.name LIKE 'answer-%'", [2, 1, 0]),
        ("tags.reviewed = 'yes'", [2]),
        ("tags.reviewed IS NULL", [1, 0]),
        ("tags.reviewed != 'no'", [2]),
        ("metadata.`mlflow.user` = 'ana'", [1, 0]),
        ("request_metadata.`mlflow.user` ILIKE 'B%'", [2]),
        ("metadata.`mlflow.trace.infoFinalized` = 'true'", [2, 1, 0]),
        ("span.name = 'answer-0'", [0]),
        ("span.type = 'LLM' AND span.status = 'OK'", [2, 1, 0]),
        ("span.status = 'ERROR'", [1]),
        ("span.attributes.model = 'gpt-a'", [2, 0]),
        ("span.attributes.model IN ('gpt-b')", [1]),
        ("span.attributes.model LIKE '%gpt-a%'", [2, 0]),
        ("span.attributes.model RLIKE '^gpt-.$'", [2, 1, 0]),
        ("span.attributes.model RLIKE 'pt-b'", [1]),
        ("trace.text ILIKE '%REFUND%'", [0]),
        ("span.content LIKE '%shipping%'", [2]),
        ("trace.text LIKE '%REFUND%'", []),
        ("trace.request_id = 'tr-00000000000000000000000000000001'", [1]),
        ("feedback.rating >= 3", []),
        ("feedback.rating IS NULL", [2, 1, 0]),
    ],
)
def test_it_finds_the_traces_each_filter_describes(experiment, traces, filter_string, expected):
    assert _ids(experiment, filter_string=filter_string) == [traces[i].trace_id for i in expected]


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (["timestamp_ms ASC"], [0, 1, 2]),
        (["execution_time DESC"], [2, 1, 0]),
        (["end_time_ms DESC"], [2, 1, 0]),
        (["status ASC"], [1, 2, 0]),  # ERROR before OK; the newest first among equals
        (["name DESC"], [2, 1, 0]),
        (["attributes.request_id ASC"], [0, 1, 2]),
    ],
)
def test_it_orders_by_the_keys_given_then_newest_first(experiment, traces, order_by, expected):
    assert _ids(experiment, order_by=order_by) == [traces[i].trace_id for i in expected]


def test_it_rejects_an_order_by_key_it_does_not_know(experiment, traces):
    with pytest.raises(InvalidParameterValue):
        _ids(experiment, order_by=["tags.reviewed"])


def test_it_pages_through_the_traces_with_tokens(experiment, traces):
    first, token = search_traces(experiment.workspace, [experiment], max_results=2)
    rest, last = search_traces(experiment.workspace, [experiment], max_results=2, page_token=token)
    assert [r.trace.trace_id for r in first + rest] == [traces[i].trace_id for i in (2, 1, 0)]
    assert token and last is None
    for bad in (0, 501):
        with pytest.raises(InvalidParameterValue):
            search_traces(experiment.workspace, [experiment], max_results=bad)


def test_it_finds_the_traces_of_a_run_by_source_or_link(experiment, traces):
    run = create_run(experiment=experiment, run_name="r")
    link_traces_to_run(workspace=experiment.workspace, trace_ids=[traces[1].trace_id], run=run)
    assert _ids(experiment, filter_string=f"trace.run_id = '{run.uuid}'") == [traces[1].trace_id]
    # Other comparisons read the source run alone, which these traces do not name.
    assert _ids(experiment, filter_string=f"trace.run_id != '{run.uuid}'") == []


def test_a_page_costs_the_same_few_queries_for_one_or_many_traces(
    experiment, traces, django_assert_max_num_queries
):
    with django_assert_max_num_queries(4):  # the page, tags, metadata, assessments
        records, _ = search_traces(
            experiment.workspace, [experiment], filter_string="tags.reviewed IS NULL AND span.type = 'LLM'"
        )
    assert len(records) == 2 and records[0].tags["mlflow.traceName"] == "answer-1"


def test_another_workspace_sees_none_of_them(experiment, traces, make_workspace):
    other = make_workspace("elsewhere")
    theirs = create_experiment(workspace=other, name="traced")
    assert search_traces(other, [theirs])[0] == []


@pytest.fixture
def judged(traces):
    """Trace 0: helpful = true and score 0.9 overridden by 0.2; trace 1: score 4; trace 2 none.
    Traces 1 and 2 are one session, judged as a whole through trace 1 (tone = 'calm')."""

    def feedback(trace, name, value, **fields):
        item = AssessmentInput(
            name=name, assessment_type="feedback", value=value, source_type="HUMAN", **fields
        )
        return create_assessment(trace=trace, item=item)

    feedback(traces[0], "helpful", True)
    first = feedback(traces[0], "score", 0.9)
    feedback(traces[0], "score", 0.2, overrides=first.assessment_id)
    feedback(traces[1], "score", 4.0)
    TraceMetadata.objects.bulk_create(
        [TraceMetadata(trace=trace, key="mlflow.trace.session", value="s-1") for trace in traces[1:]]
    )
    feedback(traces[1], "tone", "calm", metadata={"mlflow.trace.session": "s-1"})
    return traces


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("feedback.helpful = 'true'", [0]),
        ("feedback.score > 0.5", [1]),  # trace 0's 0.9 was overridden
        ("feedback.score < 0.5", [0]),
        ("feedback.score = '4.0'", [1]),
        ("feedback.score != '4.0'", [0]),
        ("feedback.score IS NULL", [2]),
        ("feedback.score IS NOT NULL", [1, 0]),
        ("feedback.helpful LIKE 't%'", [0]),
        ("feedback.tone = 'calm'", [2, 1]),  # the session's every trace
        ("feedback.tone IS NULL", [0]),
        ("expectation.score IS NOT NULL", []),
    ],
)
def test_it_finds_traces_by_their_valid_assessments(experiment, judged, filter_string, expected):
    assert _ids(experiment, filter_string=filter_string) == [judged[i].trace_id for i in expected]


@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        ("feedback.score = 4", "Expected a quoted string value for feedback"),
        ("feedback.score > '4'", "Expected a numeric value for feedback when using comparator '>'"),
        ("feedback.score IN ('4')", "Expected a quoted string value for feedback"),
    ],
)
def test_assessment_values_must_be_of_the_comparators_kind(filter_string, message):
    with pytest.raises(InvalidParameterValue, match=message):
        parse_trace_filter(filter_string)
