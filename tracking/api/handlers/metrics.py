"""MlflowService metric-history RPCs."""

from __future__ import annotations

from typing import Any

import orjson
from django.http import HttpResponse

from tracking.errors import InvalidParameterValue
from tracking.queries import metrics as queries
from tracking.validation import SEE_THE_DOCS

from ..protocol import read_message
from ..responses import JSON
from ..router import ApiCall, rpc
from ..wire import double
from .runs import _run_id


@rpc("mlflow.GetMetricHistory")
def get_metric_history(call: ApiCall) -> HttpResponse:
    message = call.message
    key = message["metric_key"]
    page = queries.get_metric_history(
        call.workspace,
        _run_id(message),
        key,
        max_results=message.get("max_results"),
        page_token=message.get("page_token"),
    )
    response: dict[str, Any] = {}
    if page.points:
        # Histories run to millions of points: keep the per-point work to one small dict.
        response["metrics"] = [
            {"key": key, "value": double(value), "timestamp": timestamp, "step": step}
            for value, timestamp, step in page.points
        ]
    if page.next_page_token:
        response["next_page_token"] = page.next_page_token
    return HttpResponse(orjson.dumps(response), content_type=JSON)


@rpc("mlflow.GetMetricHistoryBulkInterval", raw=True)
def get_metric_history_bulk_interval(call: ApiCall) -> dict[str, Any]:
    message = call.message
    if not message:
        # Straight from HTTP (GraphQL passes its checked message): MLflow's server asks for the
        # runs before the metric key, so the message is read after that check.
        if not call.request.GET.getlist("run_ids"):
            raise InvalidParameterValue(f"Missing value for required parameter 'run_ids'.{SEE_THE_DOCS}")
        message = read_message(call.request, "mlflow.GetMetricHistoryBulkInterval")
    key = message["metric_key"]
    rows = queries.get_metric_history_sampled(
        call.workspace,
        message.get("run_ids", []),
        key,
        max_results=message.get("max_results", queries.MAX_POINTS_PER_RUN_INTERVAL),
        start_step=message.get("start_step"),
        end_step=message.get("end_step"),
    )
    if not rows:
        return {}
    return {
        "metrics": [
            {"key": key, "value": double(value), "timestamp": timestamp, "step": step, "run_id": run_id}
            for run_id, value, timestamp, step in rows
        ]
    }
