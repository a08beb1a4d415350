"""The routes MLflow's web UI calls that no .proto declares: bulk histories, dataset summaries,
prompt-engineering runs, small uploads, and downloads of a run's, a logged model's or a version's
files. Files always come back inert (attachments, nosniff) and no path leaves its folder."""

from __future__ import annotations

import json

import pytest
import requests

AJAX = "/ajax-api/2.0/mlflow"
TRAVERSALS = ["../../../etc/passwd", "a/../../x", "%2e%2e/%2e%2e/x", "/etc/passwd", "..\\..\\x"]


@pytest.fixture
def run_id(client) -> str:
    experiment_id = client.create_experiment("ui-routes")
    return client.create_run(experiment_id).info.run_id


def get(uri: str, route: str, **params) -> requests.Response:
    return requests.get(f"{uri}{route}", params=params, timeout=30)


def assert_error(response: requests.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.json()["error_code"] == code
    return response.json()["message"]


def assert_inert_attachment(response: requests.Response, name: str) -> None:
    assert response.headers["Content-Disposition"] == f"attachment; filename={name}"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"].startswith("sandbox")


def test_get_history_bulk_answers_each_run_s_history_in_run_order(client, tracking_uri):
    experiment_id = client.create_experiment("bulk")
    first, second = sorted(client.create_run(experiment_id).info.run_id for _ in range(2))
    for step in range(3):
        client.log_metric(second, "loss", 1.0 - step / 10, timestamp=1000 + step, step=step)
    client.log_metric(first, "loss", float("nan"), timestamp=5, step=0)

    response = get(
        tracking_uri, f"{AJAX}/metrics/get-history-bulk", run_id=[second, first], metric_key="loss"
    )

    assert response.status_code == 200
    points = [(m["run_id"], m["step"], m["value"]) for m in response.json()["metrics"]]
    assert points == [(first, 0, "NaN"), (second, 0, 1.0), (second, 1, 0.9), (second, 2, 0.8)]
    capped = get(
        tracking_uri,
        f"{AJAX}/metrics/get-history-bulk",
        run_id=[first, second],
        metric_key="loss",
        max_results=2,
    )
    assert [m["run_id"] for m in capped.json()["metrics"]] == [first, second]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"metric_key": "loss"}, "GetMetricHistoryBulk request must specify at least one run_id."),
        ({"run_id": "x"}, "GetMetricHistoryBulk request must specify a metric_key."),
        (
            {"run_id": [f"r{i}" for i in range(101)], "metric_key": "loss"},
            "GetMetricHistoryBulk request cannot specify more than 100 run_ids. Received 101 run_ids.",
        ),
    ],
)
def test_get_history_bulk_refuses_what_mlflow_refuses(tracking_uri, params, message):
    response = get(tracking_uri, f"{AJAX}/metrics/get-history-bulk", **params)
    assert assert_error(response, 400, "INVALID_PARAMETER_VALUE") == message
    bad_limit = get(
        tracking_uri, f"{AJAX}/metrics/get-history-bulk", run_id="x", metric_key="m", max_results="lots"
    )
    assert_error(bad_limit, 400, "INVALID_PARAMETER_VALUE")


def test_search_datasets_summarises_the_inputs_of_the_experiments_runs(fluent, client, tracking_uri):
    import pandas as pd

    fluent.set_experiment("datasets-summary")
    with fluent.start_run() as run:
        dataset = fluent.data.from_pandas(pd.DataFrame({"a": [1, 2]}), name="frame")
        fluent.log_input(dataset, context="training")

    response = requests.post(
        f"{tracking_uri}{AJAX}/experiments/search-datasets",
        json={"experiment_ids": [run.info.experiment_id]},
        timeout=30,
    )

    assert response.status_code == 200
    assert response.json() == {
        "dataset_summaries": [
            {
                "experiment_id": run.info.experiment_id,
                "name": "frame",
                "digest": dataset.digest,
                "context": "training",
            }
        ]
    }
    empty = requests.post(f"{tracking_uri}{AJAX}/experiments/search-datasets", json={}, timeout=30)
    assert assert_error(empty, 400, "INVALID_PARAMETER_VALUE") == (
        "SearchDatasets request must specify at least one experiment_id."
    )


def test_create_promptlab_run_records_a_finished_run_with_its_evaluation_table(client, tracking_uri):
    experiment_id = client.create_experiment("prompts")
    body = {
        "experiment_id": experiment_id,
        "run_name": "greeting",
        "prompt_template": "Say hello to {{ name }}",
        "prompt_parameters": [{"key": "name", "value": "Ada"}],
        "model_route": "chat",
        "model_parameters": [{"key": "temperature", "value": 0.5}],
        "model_input": "Say hello to Ada",
        "model_output": "Hello, Ada!",
        "mlflow_version": "3.17.2",
    }

    response = requests.post(f"{tracking_uri}{AJAX}/runs/create-promptlab-run", json=body, timeout=30)

    assert response.status_code == 200, response.text
    run = client.get_run(response.json()["run"]["info"]["run_id"])
    assert (run.info.status, run.info.run_name) == ("FINISHED", "greeting")
    assert run.data.params == {
        "temperature": "0.5",
        "model_route": "chat",
        "prompt_template": "Say hello to {{ name }}",
    }
    assert run.data.tags["mlflow.runSourceType"] == "PROMPT_ENGINEERING"
    with open(client.download_artifacts(run.info.run_id, "eval_results_table.json")) as handle:
        table = json.load(handle)
    assert table == {
        "columns": ["name", "prompt", "output"],
        "data": [["Ada", "Say hello to Ada", "Hello, Ada!"]],
    }

    missing = requests.post(
        f"{tracking_uri}{AJAX}/runs/create-promptlab-run", json={"experiment_id": experiment_id}, timeout=30
    )
    assert assert_error(missing, 400, "INVALID_PARAMETER_VALUE") == (
        "CreatePromptlabRun request must specify prompt_template."
    )
    bad_params = requests.post(
        f"{tracking_uri}{AJAX}/runs/create-promptlab-run",
        json={**body, "prompt_parameters": "name=Ada"},
        timeout=30,
    )
    assert_error(bad_params, 400, "INVALID_PARAMETER_VALUE")


def test_an_uploaded_file_comes_back_from_get_artifact_as_an_inert_attachment(client, tracking_uri, run_id):
    page = b"<html><script>fetch('/api/studio/v1/workspaces', {method: 'POST'})</script></html>"
    upload = requests.post(
        f"{tracking_uri}{AJAX}/upload-artifact",
        params={"run_uuid": run_id, "path": "eval/page.html"},
        data=page,
        timeout=30,
    )
    assert (upload.status_code, upload.json()) == (200, {})
    assert [f.path for f in client.list_artifacts(run_id, "eval")] == ["eval/page.html"]

    response = get(tracking_uri, "/get-artifact", run_id=run_id, path="eval/page.html")

    assert (response.status_code, response.content) == (200, page)
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert_inert_attachment(response, "page.html")
    assert get(tracking_uri, "/get-artifact", run_uuid=run_id, path="eval/page.html").content == page
    missing = get(tracking_uri, "/get-artifact", run_id=run_id, path="eval/none.txt")
    assert assert_error(missing, 404, "RESOURCE_DOES_NOT_EXIST") == "No such artifact: 'eval/none.txt'"


@pytest.mark.parametrize(
    ("params", "data", "status", "message"),
    [
        ({"path": "a.txt"}, b"x", 400, "Request must specify run_uuid."),
        ({"run_uuid": "RUN"}, b"x", 400, "Request must specify path."),
        ({"run_uuid": "RUN", "path": "a.txt"}, b"", 400, "Request must specify data."),
        (
            {"run_uuid": "RUN", "path": "a.txt"},
            b"x" * (10 * 1024 * 1024 + 1),
            413,
            "Artifact size is too large. Max size is 10MB.",
        ),
    ],
    ids=["no-run", "no-path", "no-data", "over-10MB"],
)
def test_upload_artifact_refuses_what_mlflow_refuses(tracking_uri, run_id, params, data, status, message):
    params = {key: value.replace("RUN", run_id) for key, value in params.items()}
    response = requests.post(f"{tracking_uri}{AJAX}/upload-artifact", params=params, data=data, timeout=60)
    assert assert_error(response, status, "INVALID_PARAMETER_VALUE") == message


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_ui_route_reads_or_writes_outside_its_folder(client, tracking_uri, run_id, path):
    experiment_id = client.get_run(run_id).info.experiment_id
    model_id = client.create_logged_model(experiment_id, name="m").model_id
    upload = requests.post(
        f"{tracking_uri}{AJAX}/upload-artifact",
        params={"run_uuid": run_id, "path": path},
        data=b"x",
        timeout=30,
    )
    assert_error(upload, 400, "INVALID_PARAMETER_VALUE")
    for response in (
        get(tracking_uri, "/get-artifact", run_id=run_id, path=path),
        get(tracking_uri, f"{AJAX}/logged-models/{model_id}/artifacts/files", artifact_file_path=path),
    ):
        assert response.status_code == 400, (path, response.text)
        assert response.json()["message"].startswith("Invalid path")
    assert client.list_artifacts(run_id) == []


def test_a_logged_model_s_file_is_served_as_an_attachment(client, tracking_uri, tmp_path):
    experiment_id = client.create_experiment("logged-model-files")
    model_id = client.create_logged_model(experiment_id, name="m").model_id
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    client.log_model_artifacts(model_id, str(tmp_path))

    response = get(
        tracking_uri, f"{AJAX}/logged-models/{model_id}/artifacts/files", artifact_file_path="MLmodel"
    )

    assert (response.status_code, response.text) == (200, "flavors: {}\n")
    assert_inert_attachment(response, "MLmodel")
    no_path = get(tracking_uri, f"{AJAX}/logged-models/{model_id}/artifacts/files")
    assert (
        assert_error(no_path, 400, "BAD_REQUEST")
        == 'Request must include the "artifact_file_path" query parameter.'
    )


def test_a_model_version_s_file_is_served_and_an_external_one_is_not(client, tracking_uri, run_id, tmp_path):
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    client.log_artifacts(run_id, str(tmp_path), "model")
    client.create_registered_model("ui-files")
    client.create_model_version("ui-files", f"runs:/{run_id}/model", run_id=run_id)
    client.create_model_version("ui-files", "s3://bucket/elsewhere")

    response = get(tracking_uri, "/model-versions/get-artifact", name="ui-files", version="1", path="MLmodel")

    assert (response.status_code, response.text) == (200, "flavors: {}\n")
    assert response.headers["Content-Type"] == "text/plain"
    assert_inert_attachment(response, "MLmodel")
    escape = get(tracking_uri, "/model-versions/get-artifact", name="ui-files", version="1", path="../../x")
    assert escape.json()["message"].startswith("Invalid path")
    external = get(tracking_uri, "/model-versions/get-artifact", name="ui-files", version="2", path="MLmodel")
    assert assert_error(external, 400, "INVALID_PARAMETER_VALUE") == (
        "The files at 's3://bucket/elsewhere' are not stored on this server."
    )


def test_another_workspace_s_runs_models_and_files_are_out_of_reach(
    client, tracking_uri, run_id, make_workspace
):
    make_workspace("ui-other")
    other = f"{tracking_uri}/ws/ui-other"
    client.log_metric(run_id, "loss", 0.5)
    requests.post(
        f"{tracking_uri}{AJAX}/upload-artifact",
        params={"run_uuid": run_id, "path": "secret.txt"},
        data=b"s",
        timeout=30,
    )
    experiment_id = client.get_run(run_id).info.experiment_id
    model_id = client.create_logged_model(experiment_id, name="m").model_id

    bulk = get(other, f"{AJAX}/metrics/get-history-bulk", run_id=run_id, metric_key="loss")
    assert (bulk.status_code, bulk.json()) == (200, {"metrics": []})
    assert_error(
        get(other, "/get-artifact", run_id=run_id, path="secret.txt"), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    assert_error(
        get(other, f"{AJAX}/logged-models/{model_id}/artifacts/files", artifact_file_path="x"),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    upload = requests.post(
        f"{other}{AJAX}/upload-artifact",
        params={"run_uuid": run_id, "path": "planted.txt"},
        data=b"x",
        timeout=30,
    )
    assert_error(upload, 404, "RESOURCE_DOES_NOT_EXIST")
    assert [f.path for f in client.list_artifacts(run_id)] == ["secret.txt"]
    datasets = requests.post(
        f"{other}{AJAX}/experiments/search-datasets", json={"experiment_ids": [experiment_id]}, timeout=30
    )
    assert (datasets.status_code, datasets.json()) == (200, {})


@pytest.mark.parametrize(
    ("route", "field", "message"),
    [
        ("metrics/get-history-bulk", "run_id", "GetMetricHistoryBulk request cannot specify more than"),
        (
            "metrics/get-history-bulk-interval",
            "run_ids",
            "GetMetricHistoryBulkInterval request must specify at most 100 run_ids.",
        ),
    ],
)
def test_a_thousand_runs_in_a_query_string_get_mlflow_s_json_error_not_the_web_server_s_page(
    tracking_uri, route, field, message
):
    response = get(
        tracking_uri, f"{AJAX}/{route}", **{field: [f"id_{i}" for i in range(1000)]}, metric_key="key"
    )
    assert message in assert_error(response, 400, "INVALID_PARAMETER_VALUE")


def test_a_trace_s_spans_download_as_mlflow_s_traces_json(tracing, tracking_uri):
    from mlflow.entities import SpanEvent, TraceData

    tracing.set_experiment("trace-files")
    with tracing.start_span(name="outer") as span:
        span.set_attributes({"fruit": "apple"})
        span.add_event(SpanEvent("picked", timestamp=99999, attributes={"by": "hand"}))
        with tracing.start_span(name="inner"):
            pass

    response = get(tracking_uri, f"{AJAX}/get-trace-artifact", request_id=span.trace_id)

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "text/plain"
    assert_inert_attachment(response, "traces.json")
    spans = TraceData.from_dict(json.loads(response.text)).spans
    assert [s.name for s in spans] == ["outer", "inner"]
    assert spans[0].to_dict() == span.to_dict()
    assert spans[0].events[0].timestamp == 99999
    assert get(tracking_uri, f"{AJAX}/get-trace-artifact", request_id=span.trace_id, path="../x").json() == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "Invalid path",
    }
    missing = get(tracking_uri, f"{AJAX}/get-trace-artifact", request_id="tr-" + "0" * 32)
    assert (
        assert_error(missing, 404, "RESOURCE_DOES_NOT_EXIST")
        == f"Trace with ID '{'tr-' + '0' * 32}' not found."
    )
    no_id = get(tracking_uri, f"{AJAX}/get-trace-artifact")
    assert assert_error(no_id, 400, "BAD_REQUEST") == 'Request must include the "request_id" query parameter.'
