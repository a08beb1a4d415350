"""Analytics over an experiment's traces: the correlation of two trace filters (NPMI), and
metrics over its traces, spans and assessments (QueryTraceMetrics)."""

from __future__ import annotations

import math
from typing import Any

from tracking.errors import InvalidParameterValue
from tracking.queries.trace_correlation import trace_filter_correlation
from tracking.queries.trace_metrics import (
    DEFAULT_MAX_RESULTS,
    Aggregation,
    MetricsQuery,
    make_aggregation,
)
from tracking.queries.trace_metrics import query_trace_metrics as trace_metrics

from ..responses import page_message
from ..router import ApiCall, rpc


def _required(call: ApiCall, name: str) -> Any:
    value = call.message.get(name)
    if not value:
        raise InvalidParameterValue(
            f"Missing value for required parameter '{name}'. "
            "See the API docs for more information about request parameters."
        )
    return value


@rpc("mlflow.CalculateTraceFilterCorrelation")
def calculate_trace_filter_correlation(call: ApiCall) -> dict[str, Any]:
    result = trace_filter_correlation(
        call.workspace,
        _required(call, "experiment_ids"),
        _required(call, "filter_string1"),
        _required(call, "filter_string2"),
        call.message.get("base_filter") or None,
    )
    # An undefined NPMI (NaN) is left out of the answer, as MLflow's server leaves it.
    shaped: dict[str, Any] = {}
    if not math.isnan(result.npmi):
        shaped["npmi"] = result.npmi
    if not math.isnan(result.npmi_smoothed):
        shaped["npmi_smoothed"] = result.npmi_smoothed
    shaped.update(
        filter1_count=result.filter1_count,
        filter2_count=result.filter2_count,
        joint_count=result.joint_count,
        total_count=result.total_count,
    )
    return shaped


def _aggregation(item: dict[str, Any]) -> Aggregation:
    kind = item.get("aggregation_type")
    if kind is None:
        raise InvalidParameterValue("Each aggregation needs an 'aggregation_type'.")
    return make_aggregation(kind, item.get("percentile_value"))


@rpc("mlflow.QueryTraceMetrics")
def query_trace_metrics(call: ApiCall) -> dict[str, Any]:
    message = call.message
    experiment_ids = _required(call, "experiment_ids")  # checked first, as MLflow checks it
    query = MetricsQuery(
        view_type=_required(call, "view_type"),
        metric_name=_required(call, "metric_name"),
        aggregations=tuple(_aggregation(item) for item in _required(call, "aggregations")),
        dimensions=tuple(message.get("dimensions") or ()),
        filters=tuple(message.get("filters") or ()),
        time_interval_seconds=message.get("time_interval_seconds"),
        start_time_ms=message.get("start_time_ms"),
        end_time_ms=message.get("end_time_ms"),
        max_results=message.get("max_results", DEFAULT_MAX_RESULTS),
    )
    # MLflow's server reads no page token yet: every answer is one page.
    points = trace_metrics(call.workspace, experiment_ids, query)
    # Proto3 JSON, as MLflow writes it, leaves out empty lists and maps.
    shaped = [
        {"metric_name": point.metric_name, "values": point.values}
        | ({"dimensions": point.dimensions} if point.dimensions else {})
        for point in points
    ]
    return page_message("data_points", shaped, None)
