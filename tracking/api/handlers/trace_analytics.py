"""Analytics over an experiment's traces: the correlation of two trace filters (NPMI)."""

from __future__ import annotations

import math
from typing import Any

from tracking.errors import InvalidParameterValue
from tracking.queries.trace_correlation import trace_filter_correlation

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
