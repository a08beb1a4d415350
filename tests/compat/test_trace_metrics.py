"""QueryTraceMetrics with the real client (its REST store's `query_trace_metrics`, what MLflow's
UI and `mlflow_client._tracing_client.store` call), the numbers checked against ones computed
here from the traces the client reads back."""

from __future__ import annotations

import contextlib

import numpy
import pytest
import requests
from mlflow.entities.trace_metrics import AggregationType, MetricAggregation, MetricViewType
from mlflow.exceptions import MlflowException

COUNT = MetricAggregation(AggregationType.COUNT)
SUM = MetricAggregation(AggregationType.SUM)
AVG = MetricAggregation(AggregationType.AVG)


def p(value: float) -> MetricAggregation:
    return MetricAggregation(AggregationType.PERCENTILE, value)


def _store(mlflow):
    from mlflow.tracing.client import TracingClient

    return TracingClient().store


def _traced_calls(mlflow, sizes: list[int]) -> list[str]:
    """One trace per size: a root span and an LLM span whose token usage and cost depend on it."""

    @mlflow.trace(name="answer")
    def answer(size: int) -> int:
        with mlflow.start_span("llm", span_type="LLM") as span:
            span.set_attribute(
                "mlflow.chat.tokenUsage",
                {"input_tokens": size, "output_tokens": 2 * size, "total_tokens": 3 * size},
            )
            span.set_attribute("mlflow.llm.model", "gpt-x" if size % 2 else "small")
            span.set_attribute(
                "mlflow.llm.cost", {"input_cost": size / 100, "output_cost": 0.0, "total_cost": size / 100}
            )
        if size % 3 == 0:
            raise ValueError(size)
        return size

    trace_ids = []
    for size in sizes:
        with contextlib.suppress(ValueError):
            answer(size)
        trace_ids.append(mlflow.get_last_active_trace_id())
    return trace_ids


@pytest.fixture
def traced(tracing):
    experiment_id = tracing.set_experiment("trace metrics").experiment_id
    sizes = [1, 2, 3, 4, 5, 6, 7, 10]
    trace_ids = _traced_calls(tracing, sizes)
    infos = [tracing.get_trace(trace_id).info for trace_id in trace_ids]
    return tracing, experiment_id, dict(zip(sizes, infos, strict=True))


def test_traces_are_counted_by_status_as_mlflow_counts_them(traced):
    mlflow, experiment_id, infos = traced

    points = _store(mlflow).query_trace_metrics(
        experiment_ids=[experiment_id],
        view_type=MetricViewType.TRACES,
        metric_name="trace_count",
        aggregations=[COUNT],
        dimensions=["trace_status"],
    )

    states = [info.state.value for info in infos.values()]
    assert [(point.dimensions, point.values) for point in points] == [
        ({"trace_status": "ERROR"}, {"COUNT": states.count("ERROR")}),
        ({"trace_status": "OK"}, {"COUNT": states.count("OK")}),
    ]
    assert states.count("ERROR") == 2


def test_latency_percentiles_and_token_sums_agree_with_the_traces(traced):
    mlflow, experiment_id, infos = traced
    store = _store(mlflow)

    [latency] = store.query_trace_metrics(
        experiment_ids=[experiment_id],
        view_type=MetricViewType.TRACES,
        metric_name="latency",
        aggregations=[AVG, p(50), p(95)],
    )
    [tokens] = store.query_trace_metrics(
        experiment_ids=[experiment_id],
        view_type=MetricViewType.TRACES,
        metric_name="total_tokens",
        aggregations=[SUM, p(90)],
        dimensions=["trace_name"],
    )

    latencies = [info.execution_time_ms for info in infos.values()]
    assert latency.values["AVG"] == pytest.approx(numpy.mean(latencies))
    assert latency.values["P50.0"] == pytest.approx(numpy.percentile(latencies, 50))
    assert latency.values["P95.0"] == pytest.approx(numpy.percentile(latencies, 95))
    totals = [info.token_usage["total_tokens"] for info in infos.values()]
    assert totals == [3 * size for size in infos]
    assert tokens.dimensions == {"trace_name": "answer"}
    assert tokens.values == {"SUM": sum(totals), "P90.0": pytest.approx(numpy.percentile(totals, 90))}


def test_span_costs_by_model_and_spans_by_type(traced):
    mlflow, experiment_id, infos = traced
    store = _store(mlflow)

    costs = store.query_trace_metrics(
        experiment_ids=[experiment_id],
        view_type=MetricViewType.SPANS,
        metric_name="total_cost",
        aggregations=[SUM],
        dimensions=["span_model_name"],
    )
    spans = store.query_trace_metrics(
        experiment_ids=[experiment_id],
        view_type=MetricViewType.SPANS,
        metric_name="span_count",
        aggregations=[COUNT],
        dimensions=["span_type"],
        filters=["trace.status = 'OK'"],
    )

    odd = sum(size for size in infos if size % 2) / 100
    even = sum(size for size in infos if not size % 2) / 100
    assert [(c.dimensions["span_model_name"], c.values["SUM"]) for c in costs] == [
        ("gpt-x", pytest.approx(odd)),
        ("small", pytest.approx(even)),
    ]
    ok = sum(1 for size in infos if size % 3)
    assert [(s.dimensions["span_type"], s.values["COUNT"]) for s in spans] == [("LLM", ok), ("UNKNOWN", ok)]


def test_hourly_buckets_hold_every_trace_of_the_range(traced):
    mlflow, experiment_id, infos = traced
    first = min(info.request_time for info in infos.values())
    last = max(info.request_time for info in infos.values())

    points = _store(mlflow).query_trace_metrics(
        experiment_ids=[experiment_id],
        view_type=MetricViewType.TRACES,
        metric_name="trace_count",
        aggregations=[COUNT],
        time_interval_seconds=3600,
        start_time_ms=first,
        end_time_ms=last,
    )

    assert sum(point.values["COUNT"] for point in points) == len(infos)
    hours = sorted({(info.request_time // 3_600_000) * 3_600_000 for info in infos.values()})
    from datetime import UTC, datetime

    assert [point.dimensions["time_bucket"] for point in points] == [
        datetime.fromtimestamp(hour / 1000, tz=UTC).isoformat() for hour in hours
    ]


def test_bad_queries_are_mlflows_errors(traced):
    mlflow, experiment_id, _ = traced
    store = _store(mlflow)

    with pytest.raises(MlflowException, match="metric_name must be one of") as excinfo:
        store.query_trace_metrics(
            experiment_ids=[experiment_id],
            view_type=MetricViewType.TRACES,
            metric_name="cost",
            aggregations=[COUNT],
        )
    assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException, match="start_time_ms and end_time_ms are required"):
        store.query_trace_metrics(
            experiment_ids=[experiment_id],
            view_type=MetricViewType.TRACES,
            metric_name="trace_count",
            aggregations=[COUNT],
            time_interval_seconds=60,
        )
    with pytest.raises(MlflowException, match="Invalid comparator"):
        store.query_trace_metrics(
            experiment_ids=[experiment_id],
            view_type=MetricViewType.TRACES,
            metric_name="trace_count",
            aggregations=[COUNT],
            filters=["trace.status != 'OK'"],
        )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {
            "experiment_ids": ["0"],
            "metric_name": "trace_count",
            "aggregations": [{"aggregation_type": "COUNT"}],
        },
        {"experiment_ids": ["0"], "view_type": "TRACES", "metric_name": "trace_count", "aggregations": []},
        {
            "experiment_ids": ["0"],
            "view_type": "LOGS",
            "metric_name": "trace_count",
            "aggregations": [{"aggregation_type": "COUNT"}],
        },
        {
            "experiment_ids": ["0"],
            "view_type": "TRACES",
            "metric_name": "latency",
            "aggregations": [{"aggregation_type": "PERCENTILE"}],
        },
        {
            "experiment_ids": ["0"],
            "view_type": "TRACES",
            "metric_name": "latency",
            "aggregations": [{"aggregation_type": "PERCENTILE", "percentile_value": 101}],
        },
        {
            "experiment_ids": ["0"],
            "view_type": "TRACES",
            "metric_name": "latency",
            "aggregations": [{"aggregation_type": "PERCENTILE", "percentile_value": "NaN"}],
        },
        {"experiment_ids": ["0"], "view_type": "TRACES", "metric_name": "latency", "aggregations": [{}]},
        {
            "experiment_ids": ["zero"],
            "view_type": "TRACES",
            "metric_name": "trace_count",
            "aggregations": [{"aggregation_type": "COUNT"}],
        },
        {
            "experiment_ids": ["0"],
            "view_type": "TRACES",
            "metric_name": "trace_count",
            "aggregations": [{"aggregation_type": "COUNT"}],
            "time_interval_seconds": 1,
            "start_time_ms": 0,
            "end_time_ms": "9223372036854775807",
        },
        {
            "experiment_ids": ["0"],
            "view_type": "TRACES",
            "metric_name": "trace_count",
            "aggregations": [{"aggregation_type": "COUNT"}],
            "time_interval_seconds": "-9223372036854775808",
            "start_time_ms": 0,
            "end_time_ms": 1,
        },
        {
            "experiment_ids": ["0"],
            "view_type": "TRACES",
            "metric_name": "trace_count",
            "aggregations": [{"aggregation_type": "COUNT"}],
            "max_results": -1,
        },
        {
            "experiment_ids": ["0"],
            "view_type": "TRACES",
            "metric_name": "trace_count",
            "aggregations": [{"aggregation_type": "COUNT"}],
            "filters": ["trace.tag.`a = 'b'"],
        },
        {
            "experiment_ids": ["0"],
            "view_type": "TRACES",
            "metric_name": "trace_count",
            "aggregations": [{"aggregation_type": "COUNT"}],
            "filters": ["trace.status = 'OK' OR 1 = 1"],
        },
        {
            "experiment_ids": ["0"],
            "view_type": "TRACES",
            "metric_name": "trace_count",
            "aggregations": [{"aggregation_type": "COUNT"}],
            "dimensions": ["span_name"],
        },
    ],
)
def test_hostile_bodies_answer_400_never_a_server_error(tracking_uri, body):
    answer = requests.post(f"{tracking_uri}/api/3.0/mlflow/traces/metrics", json=body, timeout=10)

    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_edge_values_of_the_range_answer_without_error(traced, tracking_uri):
    _, experiment_id, infos = traced
    body = {
        "experiment_ids": [experiment_id],
        "view_type": "SPANS",
        "metric_name": "total_cost",
        "aggregations": [{"aggregation_type": "SUM"}],
    }

    edges = [
        {"start_time_ms": "-9223372036854775808", "end_time_ms": "9223372036854775807"},
        {"start_time_ms": "9223372036854775807"},
        {"end_time_ms": "-1"},
    ]
    answers = [
        requests.post(f"{tracking_uri}/api/3.0/mlflow/traces/metrics", json={**body, **edge}, timeout=10)
        for edge in edges
    ]

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert answers[0].json()["data_points"][0]["values"]["SUM"] == pytest.approx(sum(infos) / 100)
    assert [answer.json() for answer in answers[1:]] == [{}, {}]
