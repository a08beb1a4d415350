"""Writing traces: spans and the trace's info may arrive in either order, and the info wins;
reading them back costs a fixed number of queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tracking.models import PendingTraceRunLink, Span, Trace, TraceRunLink, TraceTag
from tracking.queries.traces import load_traces, trace_spans
from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run
from tracking.services.traces import (
    SpanRecord,
    TraceInfoInput,
    delete_traces,
    link_traces_to_run,
    log_spans,
    start_trace,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T0_NS = int(T0.timestamp()) * 1_000_000_000
TRACE_ID = "tr-" + "ab" * 16


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="traced")


def spans(trace_id: str = TRACE_ID, *, root_status: str = "ERROR") -> list[SpanRecord]:
    root = SpanRecord(trace_id, "0" * 16, None, "root", "CHAIN", root_status, T0_NS, T0_NS + 900_000_000,
                      {"name": "root", "attributes": {"mlflow.spanInputs": '{"q": 1}'}})  # fmt: skip
    child = SpanRecord(trace_id, "1" * 16, "0" * 16, "child", "LLM", "OK", T0_NS + 1, T0_NS + 5_000_000,
                       {"name": "child", "attributes": {}})  # fmt: skip
    return [child, root]


def info(**overrides) -> TraceInfoInput:
    values = {
        "trace_id": TRACE_ID,
        "request_time": T0 + timedelta(milliseconds=5),
        "execution_duration_ms": 100,
        "state": "OK",
        "request_preview": "from the client",
        "tags": {"mlflow.traceName": "named"},
        "metadata": {"mlflow.user": "ana"},
    }
    return TraceInfoInput(**{**values, **overrides})


def test_spans_alone_make_a_trace_of_their_times_state_and_inputs(experiment):
    log_spans(workspace=experiment.workspace, experiment=experiment, spans=spans())
    trace = Trace.objects.get()
    assert (trace.request_time, trace.execution_duration_ms, trace.state) == (T0, 900, "ERROR")
    assert trace.end_time == T0 + timedelta(milliseconds=900)
    assert trace.request_preview == '{"q": 1}'
    tags = dict(TraceTag.objects.values_list("key", "value"))
    assert tags["mlflow.traceName"] == "root" and tags["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    assert (
        tags["mlflow.artifactLocation"]
        == f"mlflow-artifacts:/{experiment.number}/traces/{TRACE_ID}/artifacts"
    )


def test_the_info_wins_whichever_comes_first(experiment, default_workspace):
    log_spans(workspace=default_workspace, experiment=experiment, spans=spans())
    start_trace(workspace=default_workspace, experiment=experiment, info=info())
    first = Trace.objects.get()
    first_name = TraceTag.objects.get(trace=first, key="mlflow.traceName").value
    delete_traces(workspace=default_workspace, experiment=experiment, trace_ids=[TRACE_ID])

    start_trace(workspace=default_workspace, experiment=experiment, info=info())
    log_spans(workspace=default_workspace, experiment=experiment, spans=spans())
    second = Trace.objects.get()

    for trace in (first, second):
        assert (trace.execution_duration_ms, trace.state, trace.request_preview) == (
            100,
            "OK",
            "from the client",
        )
        assert trace.request_time == T0 + timedelta(milliseconds=5)
    assert first_name == TraceTag.objects.get(trace=second, key="mlflow.traceName").value == "named"
    assert Span.objects.filter(trace=second).count() == 2


def test_a_trace_id_of_another_workspace_makes_a_trace_of_its_own(experiment, make_workspace):
    log_spans(workspace=experiment.workspace, experiment=experiment, spans=spans())
    other = make_workspace("elsewhere")
    theirs = create_experiment(workspace=other, name="traced")
    log_spans(workspace=other, experiment=theirs, spans=spans(root_status="OK"))
    assert Trace.objects.get(workspace=experiment.workspace).state == "ERROR"
    assert Trace.objects.get(workspace=other).state == "OK"
    assert delete_traces(workspace=other, experiment=theirs, trace_ids=[TRACE_ID]) == 1
    assert Span.objects.filter(trace__workspace=experiment.workspace).count() == 2


def test_reading_traces_with_spans_costs_four_queries_for_one_or_many(
    experiment, django_assert_max_num_queries
):
    for number in range(10):
        log_spans(workspace=experiment.workspace, experiment=experiment, spans=spans(f"tr-{number:032x}"))
    traces = list(Trace.objects.all())
    with django_assert_max_num_queries(4):  # tags, metadata, assessments, spans
        records = load_traces(traces, with_spans=True)
    assert all(len(record.spans) == 2 and record.tags for record in records)
    assert [span["name"] for span in records[0].spans] == ["root", "child"]  # in order of start
    assert [(s.name, s.parent_span_id) for s in trace_spans(traces[0])] == [
        ("root", None),
        ("child", "0" * 16),
    ]


@pytest.mark.parametrize("bound", [10**15, 2**63 - 1])
def test_deleting_up_to_a_time_takes_any_bound_even_past_the_year_9999(experiment, bound):
    """`max_timestamp_millis` bounds a search rather than naming a stored time (MLflow's client
    and tests send 10**15)."""
    log_spans(workspace=experiment.workspace, experiment=experiment, spans=spans())
    assert (
        delete_traces(workspace=experiment.workspace, experiment=experiment, max_timestamp_millis=bound) == 1
    )
    assert not Trace.objects.exists()


def test_a_link_that_arrives_before_its_trace_takes_effect_when_the_trace_does(experiment, make_workspace):
    """MLflow's client exports a trace in the background: `link_traces_to_run` right after the
    traced call may reach the server before the trace."""
    run = create_run(experiment=experiment)
    other = create_experiment(workspace=make_workspace("others"), name="theirs")
    link_traces_to_run(workspace=experiment.workspace, trace_ids=[TRACE_ID, TRACE_ID, "x" * 65], run=run)
    assert list(PendingTraceRunLink.objects.values_list("trace_id", "run_id")) == [(TRACE_ID, run.uuid)]

    log_spans(workspace=other.workspace, experiment=other, spans=spans())  # the same id elsewhere
    assert not TraceRunLink.objects.exists()
    log_spans(workspace=experiment.workspace, experiment=experiment, spans=spans())

    trace = Trace.objects.get(workspace=experiment.workspace)
    assert list(TraceRunLink.objects.values_list("trace_id", "run_id")) == [(trace.pk, run.uuid)]
    assert not PendingTraceRunLink.objects.exists()
