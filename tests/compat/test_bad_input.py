"""Bad input over plain HTTP (the client would refuse to send most of it): MLflow's error shapes."""

from __future__ import annotations

import pytest
import requests


@pytest.fixture
def api(tracking_uri):
    session = requests.Session()

    def call(method: str, path: str, **kwargs) -> requests.Response:
        return session.request(method, f"{tracking_uri}/api/2.0/mlflow/{path}", timeout=30, **kwargs)

    return call


@pytest.fixture
def run_id(api) -> str:
    experiment_id = api("POST", "experiments/create", json={"name": "bad-input"}).json()["experiment_id"]
    return api("POST", "runs/create", json={"experiment_id": experiment_id}).json()["run"]["info"]["run_id"]


def assert_error(response: requests.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["error_code"] == code
    assert body["message"]
    return body


def metric(step: int) -> dict:
    return {"key": "m", "value": 1.0, "timestamp": 0, "step": step}


@pytest.mark.parametrize(
    ("metrics", "params", "tags"),
    [(1001, 0, 0), (0, 101, 0), (0, 0, 101), (950, 60, 0)],
    ids=["1001-metrics", "101-params", "101-tags", "1010-entities"],
)
def test_over_size_batches_are_refused_and_write_nothing(api, run_id, metrics, params, tags):
    body = {
        "run_id": run_id,
        "metrics": [metric(i) for i in range(metrics)],
        "params": [{"key": f"p{i}", "value": "v"} for i in range(params)],
        "tags": [{"key": f"t{i}", "value": "v"} for i in range(tags)],
    }
    assert_error(api("POST", "runs/log-batch", json=body), 400, "INVALID_PARAMETER_VALUE")
    run = api("GET", "runs/get", params={"run_id": run_id}).json()["run"]
    assert "metrics" not in run["data"]
    assert "params" not in run["data"]


def test_a_batch_with_one_bad_entry_writes_nothing(api, run_id):
    body = {"run_id": run_id, "metrics": [metric(0), {"key": "m", "value": 2.0, "timestamp": -5}]}
    assert_error(api("POST", "runs/log-batch", json=body), 400, "INVALID_PARAMETER_VALUE")
    assert api("GET", "metrics/get-history", params={"run_id": run_id, "metric_key": "m"}).json() == {}


@pytest.mark.parametrize(
    ("bad", "field"),
    [({"key": "", "value": 2.0, "timestamp": 0}, "key"), ({"key": "m", "timestamp": 0}, "value")],
)
def test_a_batch_names_the_metric_that_lacks_a_required_field(api, run_id, bad, field):
    body = {"run_id": run_id, "metrics": [metric(0), metric(1), bad, metric(3)]}
    error = assert_error(api("POST", "runs/log-batch", json=body), 400, "INVALID_PARAMETER_VALUE")
    assert f"Missing value for required parameter 'metrics[2].{field}'" in error["message"]
    assert api("GET", "metrics/get-history", params={"run_id": run_id, "metric_key": "m"}).json() == {}


def test_duplicate_param_keys_in_one_batch_are_refused(api, run_id):
    body = {"run_id": run_id, "params": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]}
    assert_error(api("POST", "runs/log-batch", json=body), 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("experiments/create", {"name": 123}),
        ("experiments/create", {"name": ""}),
        ("experiments/create", {}),
        ("experiments/create", {"name": "x" * 501}),
        ("experiments/create", {"name": "ok", "tags": "not-a-list"}),
        ("experiments/create", {"name": "ok", "tags": [{"value": "no key"}]}),
        ("runs/log-metric", {"key": "m", "value": "abc", "timestamp": 1}),
        ("runs/log-metric", {"key": "m", "value": 1.0, "timestamp": "soon"}),
        ("runs/log-metric", {"key": "m", "value": 1.0, "timestamp": 1, "step": 1.5}),
        ("runs/log-metric", {"key": "m", "value": 1.0}),
        ("runs/log-metric", {"key": "m", "value": 1.0, "timestamp": -1}),
        ("runs/log-metric", {"key": "k" * 251, "value": 1.0, "timestamp": 1}),
        ("runs/log-parameter", {"key": "../escape", "value": "v"}),
        ("runs/log-parameter", {"key": "a\nb", "value": "v"}),
        ("runs/set-tag", {"value": "no key"}),
        ("runs/search", {"experiment_ids": ["0"], "max_results": 50001}),
        ("runs/search", {"experiment_ids": ["0"], "max_results": 0}),
        ("runs/search", {"experiment_ids": ["0"], "filter": "params.x = '1' OR 1=1 --"}),
        ("runs/search", {"experiment_ids": ["0"], "page_token": "garbage"}),
        ("runs/search", {"experiment_ids": "0"}),
        ("runs/update", {"status": "SLEEPING"}),
    ],
)
def test_malformed_requests_are_invalid_parameter_values(api, run_id, path, body):
    if path.startswith("runs/") and path != "runs/search":
        body = {"run_id": run_id, **body}
    assert_error(api("POST", path, json=body), 400, "INVALID_PARAMETER_VALUE")


def test_malformed_json_is_treated_as_an_empty_body(api):
    response = api(
        "POST", "experiments/create", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    body = assert_error(response, 400, "INVALID_PARAMETER_VALUE")
    assert "name" in body["message"]


def test_a_post_without_content_type_is_refused(api):
    response = api("POST", "experiments/create", data=b'{"name": "x"}', headers={"Content-Type": ""})
    assert_error(response, 400, "INVALID_PARAMETER_VALUE")


def test_unknown_fields_are_ignored(api):
    response = api("POST", "experiments/create", json={"name": "extra", "favourite_colour": "blue"})
    assert response.status_code == 200


def test_unknown_ids_are_not_found(api):
    assert_error(
        api("GET", "experiments/get", params={"experiment_id": "424242"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    assert_error(api("GET", "runs/get", params={"run_id": "f" * 32}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(
        api("GET", "experiments/get", params={"experiment_id": "abc"}), 400, "INVALID_PARAMETER_VALUE"
    )


def test_writes_to_a_deleted_run_are_refused(api, run_id):
    api("POST", "runs/delete", json={"run_id": run_id})
    response = api("POST", "runs/log-parameter", json={"run_id": run_id, "key": "k", "value": "v"})
    assert_error(response, 400, "INVALID_PARAMETER_VALUE")


def test_unknown_endpoints_and_methods(tracking_uri, api):
    assert_error(api("POST", "runs/teleport", json={}), 404, "ENDPOINT_NOT_FOUND")
    assert_error(requests.get(f"{tracking_uri}/api/2.0/nothing/here", timeout=30), 404, "ENDPOINT_NOT_FOUND")
    response = api("GET", "experiments/create")
    assert_error(response, 405, "ENDPOINT_NOT_FOUND")
    assert response.headers["Allow"] == "POST"


def test_declared_but_unimplemented_rpcs_say_so(api):
    response = api("POST", "artifacts/presigned-upload-url", json={"run_id": "x", "path": "a"})
    assert_error(response, 501, "NOT_IMPLEMENTED")


def test_an_over_large_body_is_refused_with_413(small_limits_uri):
    response = requests.post(
        f"{small_limits_uri}/api/2.0/mlflow/experiments/create", json={"name": "x" * 2000}, timeout=30
    )
    assert_error(response, 413, "INVALID_PARAMETER_VALUE")


def test_health_version_and_server_info(tracking_uri):
    assert requests.get(f"{tracking_uri}/health", timeout=30).text == "OK"
    assert requests.get(f"{tracking_uri}/version", timeout=30).text.startswith("3.")
    info = requests.get(f"{tracking_uri}/api/3.0/mlflow/server-info", timeout=30).json()
    assert info["artifact_serving_enabled"] is True


def test_nul_characters_are_refused_on_both_databases(api, run_id):
    response = api("POST", "runs/set-tag", json={"run_id": run_id, "key": "k", "value": "a\x00b"})
    assert_error(response, 400, "INVALID_PARAMETER_VALUE")
    response = api("GET", "experiments/get-by-name", params={"experiment_name": "a\x00b"})
    assert_error(response, 400, "INVALID_PARAMETER_VALUE")


def test_a_page_token_past_every_row_answers_an_empty_page(api, run_id):
    """Found in a review: an offset beyond the database's integers gave a 500."""
    import base64
    import json

    token = base64.b64encode(json.dumps({"offset": 10**30}).encode()).decode()
    runs = api("POST", "runs/search", json={"experiment_ids": ["0"], "page_token": token})
    experiments = api("POST", "experiments/search", json={"max_results": 5, "page_token": token})
    assert (runs.status_code, runs.json()) == (200, {})
    assert (experiments.status_code, experiments.json()) == (200, {})
    nested = base64.b64encode(b"[" * 50_000).decode()
    assert_error(
        api("POST", "runs/search", json={"experiment_ids": ["0"], "page_token": nested}),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_a_write_that_cannot_get_the_database_s_lock_is_a_503_the_client_retries(deployed_server, settings):
    """More writers than SQLite serves at once wait at most STUDIO_SQLITE_BUSY_SECONDS, then hear
    503 with Retry-After (which MLflow's client retries), never a 4xx and never a long stall."""
    import sqlite3
    import time

    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's single writer; PostgreSQL lets writers through")
    url = deployed_server(STUDIO_SQLITE_BUSY_SECONDS="1").url
    api = f"{url}/api/2.0/mlflow"
    experiment_id = requests.post(f"{api}/experiments/create", json={"name": "locked"}, timeout=30).json()[
        "experiment_id"
    ]
    holder = sqlite3.connect(connection.settings_dict["NAME"], timeout=30)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        started = time.monotonic()
        answer = requests.post(f"{api}/runs/create", json={"experiment_id": experiment_id}, timeout=30)
        waited = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()

    body = assert_error(answer, 503, "TEMPORARILY_UNAVAILABLE")
    assert answer.headers["Retry-After"] == "1" and "try again" in body["message"]
    assert 0.9 < waited < 5
    assert (
        requests.post(f"{api}/runs/create", json={"experiment_id": experiment_id}, timeout=30).status_code
        == 200
    )


HINT = " Hint: Value was of type '{}'. See the API docs for more information about request parameters."
SEE_DOCS = " See the API docs for more information about request parameters."


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        (
            "POST",
            "experiments/create",
            {"name": 123},
            "Invalid value 123 for parameter 'name' supplied: " + HINT.format("int"),
        ),
        (
            "POST",
            "experiments/create",
            {"name": "ok", "tags": "not-a-list"},
            "Invalid value \"not-a-list\" for parameter 'tags' supplied: " + HINT.format("str"),
        ),
        (
            "POST",
            "experiments/create",
            {"name": "x" * 501},
            "'name' exceeds the maximum length of 500 characters",
        ),
        (
            "POST",
            "runs/log-metric",
            {"key": "k" * 251, "value": 1.0, "timestamp": 1},
            "'Metric name' exceeds the maximum length of 250 characters",
        ),
        (
            "POST",
            "runs/log-metric",
            {"key": "m", "value": 1.0, "timestamp": -1},
            "Invalid value -1 for parameter 'timestamp' supplied: metric 'm' (value=1.0). "
            "Timestamp must be a nonnegative long (64-bit integer) ",
        ),
        (
            "POST",
            "runs/log-parameter",
            {"key": "../escape", "value": "v"},
            "Invalid value \"../escape\" for parameter 'key' supplied: Names may be treated as files in certain "
            "cases, and must not resolve to other names when treated as such. This name would resolve to "
            "'../escape'",
        ),
        (
            "POST",
            "runs/search",
            {"experiment_ids": ["0"], "max_results": 0},
            "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer",
        ),
        (
            "POST",
            "runs/search",
            {"experiment_ids": ["0"], "page_token": "garbage"},
            "Invalid page token, could not base64-decode",
        ),
        (
            "GET",
            "metrics/get-history-bulk-interval",
            {},
            "Missing value for required parameter 'run_ids'." + SEE_DOCS,
        ),
        (
            "GET",
            "metrics/get-history-bulk-interval",
            {"metric_key": "m"},
            "Missing value for required parameter 'run_ids'." + SEE_DOCS,
        ),
        (
            "GET",
            "metrics/get-history-bulk-interval",
            {"run_ids": "RUN", "metric_key": "m", "max_results": "0"},
            "max_results must be between 1 and 2500." + SEE_DOCS,
        ),
        (
            "GET",
            "metrics/get-history-bulk-interval",
            {"run_ids": ["RUN"] * 101, "metric_key": "m"},
            "GetMetricHistoryBulkInterval request must specify at most 100 run_ids. Received 101 run_ids."
            + SEE_DOCS,
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 40 else None,
)
def test_error_messages_are_mlflow_s_own_words(api, run_id, method, path, body, message):
    """Clients and their test suites match on these texts: each is MLflow 3.17.2's server's, word for word."""
    if path.startswith("runs/") and path != "runs/search":
        body = {"run_id": run_id, **body}
    if method == "GET":
        params = {
            k: ([run_id] * len(v) if isinstance(v, list) else v.replace("RUN", run_id))
            for k, v in body.items()
        }
        response = api("GET", path, params=params)
    else:
        response = api("POST", path, json=body)
    assert assert_error(response, 400, "INVALID_PARAMETER_VALUE")["message"] == message


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc", "%2e%2e/x"])
def test_an_artifact_path_that_escapes_is_an_invalid_path_as_mlflow_words_it(api, tracking_uri, run_id, path):
    response = api("GET", "artifacts/list", params={"run_id": run_id, "path": path})
    assert assert_error(response, 400, "INVALID_PARAMETER_VALUE")["message"] == "Invalid path"
    for route, params in (
        ("/get-artifact", {"run_id": run_id, "path": path}),
        ("/model-versions/get-artifact", {"name": "model", "version": "1", "path": path}),
        ("//model-versions/get-artifact", {"name": "model", "version": "1", "path": path}),
    ):
        answer = requests.get(f"{tracking_uri}{route}", params=params, timeout=30)
        assert assert_error(answer, 400, "INVALID_PARAMETER_VALUE")["message"] == "Invalid path"


def test_a_missing_artifact_is_no_such_artifact(tracking_uri):
    response = requests.get(f"{tracking_uri}/api/2.0/mlflow-artifacts/artifacts/nowhere/none.txt", timeout=30)
    body = assert_error(response, 404, "RESOURCE_DOES_NOT_EXIST")
    assert body["message"] == "No such artifact: 'nowhere/none.txt'"
