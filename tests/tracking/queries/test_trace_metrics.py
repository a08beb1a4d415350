"""Trace metrics (QueryTraceMetrics) against answers worked out here: counts by hand, percentiles
by numpy's linear interpolation (what MLflow's store computes on every database)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import numpy
import pytest

from tracking.errors import InvalidParameterValue
from tracking.models import Trace
from tracking.queries.trace_metrics import (
    MAX_TIME_BUCKETS,
    Aggregation,
    DataPoint,
    MetricsQuery,
    make_aggregation,
    query_trace_metrics,
)
from tracking.services.assessments import AssessmentInput, create_assessment
from tracking.services.experiments import create_experiment
from tracking.services.traces import SpanRecord, TraceInfoInput, link_traces_to_run, log_spans, start_trace
from tracking.times import MAX_MS, datetime_to_ms

T0 = datetime(2026, 3, 1, tzinfo=UTC)
T0_MS = datetime_to_ms(T0)
COUNT, AVG = Aggregation("COUNT"), Aggregation("AVG")


def percentile(value: float) -> Aggregation:
    return make_aggregation("PERCENTILE", value)


def add_trace(
    experiment,
    number: int,
    *,
    offset_ms: int = 0,
    latency: int = 100,
    state: str = "OK",
    name: str = "chat",
    metadata: dict | None = None,
) -> Trace:
    return start_trace(
        workspace=experiment.workspace,
        experiment=experiment,
        info=TraceInfoInput(
            trace_id=f"tr-{number:032x}",
            request_time=T0 + timedelta(milliseconds=offset_ms),
            execution_duration_ms=latency,
            state=state,
            tags={"mlflow.traceName": name},
            metadata=metadata or {},
        ),
    )


def metrics(experiment, view: str, metric: str, aggregations, **options) -> list[DataPoint]:
    query = MetricsQuery(view_type=view, metric_name=metric, aggregations=tuple(aggregations), **options)
    return query_trace_metrics(experiment.workspace, [experiment.experiment_id], query)


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="metrics")


@pytest.mark.django_db
def test_an_experiment_without_traces_counts_zero_and_has_no_latency(experiment):
    assert metrics(experiment, "TRACES", "trace_count", [COUNT]) == [
        DataPoint("trace_count", {}, {"COUNT": 0.0})
    ]
    assert metrics(experiment, "TRACES", "latency", [AVG, percentile(50)]) == []
    assert metrics(experiment, "TRACES", "trace_count", [COUNT], dimensions=("trace_status",)) == []


@pytest.mark.django_db
def test_one_trace_is_every_percentile_of_its_latency(experiment):
    add_trace(experiment, 1, latency=42)

    [point] = metrics(experiment, "TRACES", "latency", [percentile(0), percentile(50), percentile(99.9)])

    assert point.values == {"P0.0": 42.0, "P50.0": 42.0, "P99.9": 42.0}


@pytest.mark.django_db
def test_traces_are_counted_by_status_in_order(experiment):
    for number, state in enumerate(["OK", "ERROR", "OK"]):
        add_trace(experiment, number, state=state)

    points = metrics(experiment, "TRACES", "trace_count", [COUNT], dimensions=("trace_status",))

    assert points == [
        DataPoint("trace_count", {"trace_status": "ERROR"}, {"COUNT": 1.0}),
        DataPoint("trace_count", {"trace_status": "OK"}, {"COUNT": 2.0}),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("value", [0, 10, 25, 50, 75, 90, 95, 99, 99.9, 100])
def test_latency_percentiles_are_numpys_linear_interpolation_per_name(experiment, value):
    latencies = {"a": [5, 1, 200, 17, 17, 3000, 44], "b": [7, 8], "c": [1000]}
    number = 0
    for name, values in latencies.items():
        for latency in values:
            number += 1
            add_trace(experiment, number, latency=latency, name=name)

    points = metrics(
        experiment,
        "TRACES",
        "latency",
        [percentile(value), AVG, Aggregation("MIN"), Aggregation("MAX")],
        dimensions=("trace_name",),
    )

    assert [point.dimensions["trace_name"] for point in points] == ["a", "b", "c"]
    for point in points:
        values = latencies[point.dimensions["trace_name"]]
        assert point.values[f"P{float(value)}"] == pytest.approx(numpy.percentile(values, value), rel=1e-12)
        assert point.values["AVG"] == pytest.approx(numpy.mean(values))
        assert (point.values["MIN"], point.values["MAX"]) == (min(values), max(values))


@pytest.mark.django_db
def test_traces_without_token_usage_are_left_out_of_token_metrics(experiment):
    add_trace(
        experiment,
        1,
        metadata={"mlflow.trace.tokenUsage": json.dumps({"input_tokens": 10, "total_tokens": 30})},
    )
    add_trace(
        experiment,
        2,
        metadata={"mlflow.trace.tokenUsage": json.dumps({"input_tokens": 5, "total_tokens": 6})},
    )
    add_trace(experiment, 3)  # no usage at all
    add_trace(experiment, 4, metadata={"mlflow.trace.tokenUsage": "not json"})
    add_trace(experiment, 5, metadata={"mlflow.trace.tokenUsage": json.dumps({"input_tokens": 1.5})})

    [total] = metrics(experiment, "TRACES", "total_tokens", [Aggregation("SUM"), AVG, percentile(50)])
    [inputs] = metrics(experiment, "TRACES", "input_tokens", [Aggregation("SUM"), Aggregation("MIN")])

    assert total.values == {"SUM": 36.0, "AVG": 18.0, "P50.0": 18.0}
    assert inputs.values == {"SUM": 15.0, "MIN": 5.0}
    assert metrics(experiment, "TRACES", "cache_read_input_tokens", [Aggregation("SUM")]) == []


@pytest.mark.django_db
def test_time_buckets_start_at_their_boundary_and_the_range_includes_both_ends(experiment):
    hour = 3_600_000
    for number, offset in enumerate([0, hour - 1, hour, 2 * hour + 5, 3 * hour + 1]):
        add_trace(experiment, number, offset_ms=offset)

    points = metrics(
        experiment,
        "TRACES",
        "trace_count",
        [COUNT],
        time_interval_seconds=3600,
        start_time_ms=T0_MS,
        end_time_ms=T0_MS + 3 * hour,
    )

    assert [(point.dimensions["time_bucket"], point.values["COUNT"]) for point in points] == [
        ("2026-03-01T00:00:00+00:00", 2.0),
        ("2026-03-01T01:00:00+00:00", 1.0),
        ("2026-03-01T02:00:00+00:00", 1.0),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("moment_ms", [999, 1000, T0_MS + 59_999, T0_MS + 60_000, MAX_MS - 60_000, MAX_MS])
def test_a_traces_bucket_is_exact_to_the_millisecond_at_any_date(experiment, moment_ms):
    add_trace(experiment, 1, offset_ms=moment_ms - T0_MS, latency=0)

    [point] = metrics(
        experiment,
        "TRACES",
        "trace_count",
        [COUNT],
        time_interval_seconds=1,
        start_time_ms=moment_ms - 5000,
        end_time_ms=moment_ms + 5000,
    )

    bucket = datetime.fromtimestamp(moment_ms // 1000, tz=UTC).isoformat()
    assert point.dimensions["time_bucket"] == bucket


@pytest.mark.django_db
def test_buckets_and_dimensions_group_together(experiment):
    for number, (offset, state) in enumerate([(0, "OK"), (10, "ERROR"), (60_000, "OK"), (60_001, "OK")]):
        add_trace(experiment, number, offset_ms=offset, state=state)

    points = metrics(
        experiment,
        "TRACES",
        "trace_count",
        [COUNT],
        dimensions=("trace_status",),
        time_interval_seconds=60,
        start_time_ms=T0_MS,
        end_time_ms=T0_MS + 120_000,
    )

    assert [
        (p.dimensions["time_bucket"][11:16], p.dimensions["trace_status"], p.values["COUNT"]) for p in points
    ] == [
        ("00:00", "ERROR", 1.0),
        ("00:00", "OK", 1.0),
        ("00:01", "OK", 2.0),
    ]


def span(
    trace_id: str,
    number: int,
    *,
    parent: int | None,
    name: str,
    kind: str,
    start_ns: int,
    length_ns: int,
    attributes: dict | None = None,
    status: str = "OK",
) -> SpanRecord:
    return SpanRecord(
        trace_id,
        f"{number:016x}",
        None if parent is None else f"{parent:016x}",
        name,
        kind,
        status,
        start_ns,
        start_ns + length_ns,
        {"name": name, "attributes": attributes or {}},
    )


@pytest.fixture
def spans(experiment):
    start = T0_MS * 1_000_000
    cost = {
        "mlflow.llm.cost": json.dumps({"input_cost": 0.25, "output_cost": 0.5, "total_cost": 0.75}),
        "mlflow.llm.model": '"gpt-x"',
        "mlflow.llm.provider": '"openai"',
    }
    cheap = {"mlflow.llm.cost": json.dumps({"total_cost": 0.125}), "mlflow.llm.model": '"small"'}
    records = []
    for trace in range(2):
        trace_id = f"tr-{trace:032x}"
        records += [
            span(trace_id, 1, parent=None, name="agent", kind="AGENT", start_ns=start, length_ns=9_999_999),
            span(
                trace_id,
                2,
                parent=1,
                name="llm",
                kind="LLM",
                start_ns=start + 1,
                length_ns=2_500_000,
                attributes=cost if trace == 0 else cheap,
            ),
            span(
                trace_id,
                3,
                parent=1,
                name="tool",
                kind="TOOL",
                start_ns=start + 2,
                length_ns=999_999,
                status="ERROR",
            ),
        ]
    log_spans(workspace=experiment.workspace, experiment=experiment, spans=records)
    return records


@pytest.mark.django_db
def test_spans_are_counted_by_type_and_their_latency_is_in_whole_milliseconds(experiment, spans):
    counts = metrics(experiment, "SPANS", "span_count", [COUNT], dimensions=("span_type",))
    latency = metrics(experiment, "SPANS", "latency", [AVG, Aggregation("MAX")], dimensions=("span_name",))

    assert [(p.dimensions["span_type"], p.values["COUNT"]) for p in counts] == [
        ("AGENT", 2.0),
        ("LLM", 2.0),
        ("TOOL", 2.0),
    ]
    assert [(p.dimensions["span_name"], p.values) for p in latency] == [
        ("agent", {"AVG": 9.0, "MAX": 9.0}),
        ("llm", {"AVG": 2.0, "MAX": 2.0}),
        ("tool", {"AVG": 0.0, "MAX": 0.0}),
    ]


@pytest.mark.django_db
def test_span_costs_come_from_their_attributes_by_model(experiment, spans):
    points = metrics(experiment, "SPANS", "total_cost", [Aggregation("SUM")], dimensions=("span_model_name",))
    inputs = metrics(
        experiment, "SPANS", "input_cost", [Aggregation("SUM")], dimensions=("span_model_provider",)
    )

    assert [(p.dimensions["span_model_name"], p.values["SUM"]) for p in points] == [
        ("gpt-x", 0.75),
        ("small", 0.125),
    ]
    assert [(p.dimensions["span_model_provider"], p.values["SUM"]) for p in inputs] == [("openai", 0.25)]


@pytest.mark.django_db
def test_span_filters_hold_together_and_only_on_spans(experiment, spans):
    points = metrics(
        experiment, "SPANS", "span_count", [COUNT], filters=("span.status = 'ERROR'", 'span.type = "TOOL"')
    )

    assert points[0].values == {"COUNT": 2.0}
    with pytest.raises(InvalidParameterValue, match="only supported for SPANS view type, got TRACES"):
        metrics(experiment, "TRACES", "trace_count", [COUNT], filters=("span.name = 'x'",))


@pytest.mark.django_db
def test_assessment_values_average_by_name_without_the_overridden_ones(experiment):
    traces = [add_trace(experiment, number) for number in range(3)]
    feedback = {"assessment_type": "feedback", "source_type": "HUMAN"}
    first = create_assessment(trace=traces[0], item=AssessmentInput(name="score", value=0.2, **feedback))
    create_assessment(
        trace=traces[0],
        item=AssessmentInput(name="score", value=0.8, overrides=first.assessment_id, **feedback),
    )
    create_assessment(trace=traces[1], item=AssessmentInput(name="score", value=0.4, **feedback))
    create_assessment(trace=traces[1], item=AssessmentInput(name="good", value=True, **feedback))
    create_assessment(trace=traces[2], item=AssessmentInput(name="good", value="no", **feedback))
    create_assessment(trace=traces[2], item=AssessmentInput(name="note", value="free text", **feedback))

    values = metrics(experiment, "ASSESSMENTS", "assessment_value", [AVG], dimensions=("assessment_name",))
    counts = metrics(
        experiment,
        "ASSESSMENTS",
        "assessment_count",
        [COUNT],
        filters=("assessment.name = 'good'",),
        dimensions=("assessment_value",),
    )

    assert [(p.dimensions["assessment_name"], p.values["AVG"]) for p in values] == [
        ("good", 0.5),
        ("score", pytest.approx(0.6)),
    ]
    assert [(p.dimensions["assessment_value"], p.values["COUNT"]) for p in counts] == [
        ('"no"', 1.0),
        ("true", 1.0),
    ]


@pytest.mark.django_db
def test_trace_filters_match_tags_metadata_and_runs_linked_afterwards(experiment, default_workspace):
    from tracking.services.runs import create_run

    run = create_run(experiment=experiment, user_id="ana", start_time=T0, run_name="r", tags={})
    add_trace(experiment, 1, metadata={"mlflow.sourceRun": run.uuid})
    linked = add_trace(experiment, 2)
    add_trace(experiment, 3)
    link_traces_to_run(workspace=default_workspace, trace_ids=[linked.trace_id], run=run)
    add_trace(experiment, 4, name="other", state="ERROR")

    by_run = metrics(
        experiment,
        "TRACES",
        "trace_count",
        [COUNT],
        filters=(f"trace.metadata.mlflow.sourceRun = '{run.uuid}'",),
    )
    by_tag = metrics(
        experiment,
        "TRACES",
        "trace_count",
        [COUNT],
        filters=("trace.tag.`mlflow.traceName` = 'other'", "trace.status = 'ERROR'"),
    )

    assert by_run[0].values == {"COUNT": 2.0}
    assert by_tag[0].values == {"COUNT": 1.0}


@pytest.mark.django_db
def test_sessions_are_counted_once_each(experiment):
    for number, session in enumerate(["s1", "s1", "s2", None]):
        add_trace(experiment, number, metadata={"mlflow.trace.session": session} if session else {})

    assert metrics(experiment, "TRACES", "session_count", [COUNT])[0].values == {"COUNT": 2.0}


@pytest.mark.django_db
def test_another_workspace_sees_none_of_the_traces(experiment, make_workspace):
    add_trace(experiment, 1)
    query = MetricsQuery(
        view_type="TRACES", metric_name="trace_count", aggregations=(COUNT,), dimensions=("trace_name",)
    )

    assert query_trace_metrics(make_workspace("elsewhere"), [experiment.experiment_id], query) == []


@pytest.mark.django_db
def test_the_metrics_come_from_one_aggregate_query(experiment, django_assert_max_num_queries):
    for number in range(30):
        add_trace(experiment, number, latency=number, name=f"n{number % 3}")

    with django_assert_max_num_queries(2):  # the experiments, then the aggregate
        points = metrics(
            experiment,
            "TRACES",
            "latency",
            [percentile(50), AVG],
            dimensions=("trace_name",),
            time_interval_seconds=60,
            start_time_ms=T0_MS,
            end_time_ms=T0_MS + 60_000,
        )

    assert len(points) == 3


@pytest.mark.django_db
def test_a_dimension_named_twice_groups_once(experiment):
    add_trace(experiment, 1)

    points = metrics(
        experiment, "TRACES", "trace_count", [COUNT, COUNT], dimensions=("trace_name", "trace_name")
    )

    assert points == [DataPoint("trace_count", {"trace_name": "chat"}, {"COUNT": 1.0})]


@pytest.mark.django_db
def test_max_results_cuts_the_groups_in_order(experiment):
    for number in range(5):
        add_trace(experiment, number, name=f"n{number}")

    points = metrics(experiment, "TRACES", "trace_count", [COUNT], dimensions=("trace_name",), max_results=2)

    assert [p.dimensions["trace_name"] for p in points] == ["n0", "n1"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"view_type": "TRACES", "metric_name": "tokens"},
            re.escape("metric_name must be one of ['trace_count', 'session_count'"),
        ),
        (
            {"view_type": "TRACES", "metric_name": "trace_count", "aggregations": (AVG,)},
            r"Found invalid aggregation_type\(s\): \['AVG'\]. Supported aggregation types: \['COUNT'\]",
        ),
        (
            {
                "view_type": "SPANS",
                "metric_name": "latency",
                "aggregations": (AVG,),
                "dimensions": ("trace_name",),
            },
            r"Found invalid dimension\(s\): \['trace_name'\]",
        ),
        (
            {"view_type": "TRACES", "metric_name": "trace_count", "time_interval_seconds": 60},
            "start_time_ms and end_time_ms are required if time_interval_seconds is set",
        ),
        (
            {
                "view_type": "TRACES",
                "metric_name": "trace_count",
                "time_interval_seconds": -60,
                "start_time_ms": 0,
                "end_time_ms": 1,
            },
            "it must be a positive number of seconds",
        ),
        (
            {
                "view_type": "TRACES",
                "metric_name": "trace_count",
                "time_interval_seconds": 1,
                "start_time_ms": 0,
                "end_time_ms": MAX_TIME_BUCKETS * 1000,
            },
            f"at most {MAX_TIME_BUCKETS} are allowed",
        ),
        (
            {
                "view_type": "TRACES",
                "metric_name": "trace_count",
                "time_interval_seconds": 2**62,
                "start_time_ms": 0,
                "end_time_ms": 1,
            },
            "positive number of seconds",
        ),
        ({"view_type": "TRACES", "metric_name": "trace_count", "max_results": 0}, "'max_results'"),
        (
            {"view_type": "TRACES", "metric_name": "trace_count", "filters": ("trace.status = 'OK'",) * 101},
            "at most 100 filters",
        ),
        (
            {"view_type": "TRACES", "metric_name": "trace_count", "filters": ("trace.status != 'OK'",)},
            "only '=' operator is supported",
        ),
        (
            {"view_type": "TRACES", "metric_name": "trace_count", "filters": ("trace.tag = 'x'",)},
            "requires a key",
        ),
        (
            {"view_type": "TRACES", "metric_name": "trace_count", "filters": ("trace.status.x = 'OK'",)},
            "does not require a key",
        ),
        (
            {"view_type": "TRACES", "metric_name": "trace_count", "filters": ("run.status = 'OK'",)},
            "Invalid view type 'run'",
        ),
        (
            {"view_type": "TRACES", "metric_name": "trace_count", "filters": ("trace.name = 'OK'",)},
            "Invalid entity 'name'",
        ),
        (
            {"view_type": "TRACES", "metric_name": "trace_count", "filters": ("trace.status = 1",)},
            "Expected a quoted string value",
        ),
        (
            {
                "view_type": "TRACES",
                "metric_name": "trace_count",
                "filters": ("trace.status = 'OK' AND trace.status = 'x'",),
            },
            "Expected one filter clause",
        ),
        (
            {"view_type": "TRACES", "metric_name": "trace_count", "filters": ("trace.status = 'OK",)},
            "unterminated",
        ),
    ],
)
@pytest.mark.django_db
def test_it_rejects_what_mlflow_rejects_and_what_would_cost_too_much(experiment, options, message):
    query = MetricsQuery(**{"aggregations": (COUNT,), **options})

    with pytest.raises(InvalidParameterValue, match=message):
        query_trace_metrics(experiment.workspace, [experiment.experiment_id], query)


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("PERCENTILE", None, "Percentile value is required"),
        ("PERCENTILE", 100.5, "between 0 and 100"),
        ("PERCENTILE", float("nan"), "between 0 and 100"),
        ("AVG", 50, "only allowed for PERCENTILE"),
    ],
)
def test_a_percentile_needs_a_value_between_0_and_100(kind, value, message):
    with pytest.raises(InvalidParameterValue, match=message):
        make_aggregation(kind, value)
