"""The request reader: proto3 JSON rules, type errors with the field's path, required fields."""

from __future__ import annotations

import math
import re

import pytest
from django.test import RequestFactory

from tracking.api.protocol import check_message, read_message
from tracking.errors import InvalidParameterValue, RequestTooLarge


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"run_id": "r", "key": "k", "value": 1, "timestamp": "5"}, {"value": 1.0, "timestamp": 5}),
        ({"run_id": "r", "key": "k", "value": "NaN", "timestamp": 0}, {"timestamp": 0}),
        ({"run_id": "r", "key": "k", "value": "-Infinity", "timestamp": 1.0}, {"value": -math.inf}),
        ({"run_id": "r", "key": "k", "value": "2.5", "timestamp": 1, "step": None}, {"value": 2.5}),
        ({"run_id": "r", "key": "k", "value": 1, "timestamp": 1, "unknown": [1, 2]}, {"key": "k"}),
    ],
)
def test_it_converts_values_as_protobuf_json_does(raw, expected):
    message = check_message(raw, "mlflow.LogMetric", "")
    for name, value in expected.items():
        assert message[name] == value
    assert "unknown" not in message
    assert "step" not in message


@pytest.mark.parametrize(
    ("message", "raw", "path"),
    [
        ("mlflow.CreateExperiment", {"name": 123}, "name"),
        ("mlflow.CreateExperiment", {"name": True}, "name"),
        ("mlflow.CreateExperiment", {"name": "x", "tags": {"key": "a"}}, "tags"),
        ("mlflow.CreateExperiment", {"name": "x", "tags": [{"key": 1}]}, "tags[0].key"),
        ("mlflow.LogMetric", {"key": "k", "value": True, "timestamp": 1}, "value"),
        ("mlflow.LogMetric", {"key": "k", "value": 1, "timestamp": 1.5}, "timestamp"),
        ("mlflow.LogMetric", {"key": "k", "value": 1, "timestamp": 2**63}, "timestamp"),
        ("mlflow.SearchRuns", {"max_results": 2**31}, "max_results"),
        ("mlflow.SearchRuns", {"run_view_type": "SOME"}, "run_view_type"),
        ("mlflow.LogBatch", {"metrics": [{"key": "k", "value": [1]}]}, "metrics[0].value"),
    ],
)
def test_it_names_the_field_of_a_wrong_type(message, raw, path):
    with pytest.raises(InvalidParameterValue, match=re.escape(f"parameter '{path}'")):
        check_message(raw, message, "")


@pytest.mark.parametrize(
    ("raw", "missing"),
    [({}, "name"), ({"name": ""}, "name"), ({"name": None}, "name")],
)
def test_it_requires_required_fields(raw, missing):
    with pytest.raises(InvalidParameterValue, match=f"Missing value for required parameter '{missing}'"):
        check_message(raw, "mlflow.CreateExperiment", "")


def test_an_empty_value_is_a_value():
    assert check_message({"run_id": "r", "key": "k", "value": ""}, "mlflow.SetTag", "")["value"] == ""


def test_enums_arrive_by_name_or_number():
    assert check_message({"run_view_type": 3}, "mlflow.SearchRuns", "")["run_view_type"] == "ALL"
    assert (
        check_message({"run_view_type": "DELETED_ONLY"}, "mlflow.SearchRuns", "")["run_view_type"]
        == "DELETED_ONLY"
    )


def test_get_requests_read_repeated_fields_and_booleans_from_the_query():
    request = RequestFactory().get("/x", {"name": "m", "stages": ["Staging", "Production"], "ignored": "yes"})
    assert read_message(request, "mlflow.GetLatestVersions") == {
        "name": "m",
        "stages": ["Staging", "Production"],
    }
    request = RequestFactory().get("/x", {"trace_id": "t", "allow_partial": "TRUE"})
    assert read_message(request, "mlflow.GetTrace")["allow_partial"] is True
    with pytest.raises(InvalidParameterValue, match="Invalid boolean value"):
        read_message(
            RequestFactory().get("/x", {"trace_id": "t", "allow_partial": "maybe"}), "mlflow.GetTrace"
        )


def test_a_double_encoded_body_is_decoded_twice():
    request = RequestFactory().post("/x", data='"{\\"name\\": \\"twice\\"}"', content_type="application/json")
    assert read_message(request, "mlflow.CreateExperiment") == {"name": "twice"}


def test_an_over_large_body_is_refused_before_it_is_read(settings):
    settings.TRACKING_MAX_REQUEST_BYTES = 10
    request = RequestFactory().post("/x", data='{"name": "too long"}', content_type="application/json")
    with pytest.raises(RequestTooLarge):
        read_message(request, "mlflow.CreateExperiment")


def batch(*metrics: dict) -> dict:
    return {"run_id": "r", "metrics": list(metrics)}


def point(step: int, **fields) -> dict:
    return {"key": "loss", "value": 0.5, "timestamp": 1_700_000_000_000, "step": step, **fields}


def test_a_batch_of_plain_metrics_is_taken_as_it_is():
    metrics = [point(step) for step in range(1000)]
    assert check_message({"run_id": "r", "metrics": metrics}, "mlflow.LogBatch", "")["metrics"] is metrics


@pytest.mark.parametrize(
    ("odd_one", "converted"),
    [
        (point(7, value=1), {"value": 1.0}),  # an integer for a double
        (point(7, value="NaN"), {}),  # NaN as text: no value
        (point(7, timestamp="5"), {"timestamp": 5}),  # an int64 as text
        ({"key": "loss", "value": 0.5, "timestamp": 1}, {"key": "loss"}),  # fewer fields than the rest
        ({"key": "loss", "value": 0.5, "timestamp": 1, "stepp": 7}, {"key": "loss"}),  # another field
    ],
)
def test_one_metric_unlike_the_others_sends_the_batch_through_the_item_by_item_check(odd_one, converted):
    metrics = [point(0), point(1), odd_one, point(3)]
    checked = check_message(batch(*metrics), "mlflow.LogBatch", "")["metrics"]
    assert len(checked) == 4 and checked[0] == point(0) and checked[3] == point(3)
    for name, value in converted.items():
        assert checked[2][name] == value
    assert "stepp" not in checked[2]


@pytest.mark.parametrize(
    ("odd_one", "path"),
    [
        (point(2, value=True), "metrics[2].value"),
        (point(2**63), "metrics[2].step"),
        (point(2, timestamp=-(2**63) - 1), "metrics[2].timestamp"),
        (point(2, key=5), "metrics[2].key"),
        ("not a metric", "metrics[2]"),
    ],
)
def test_a_bad_metric_among_good_ones_is_named_by_its_index(odd_one, path):
    with pytest.raises(InvalidParameterValue, match=re.escape(f"parameter '{path}'")):
        check_message(batch(point(0), point(1), odd_one), "mlflow.LogBatch", "")
