"""The WSGI application's short lane for MLflow API calls (studio/wsgi.py)."""

from __future__ import annotations

import io

import orjson
import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from studio.wsgi import application


@pytest.fixture(autouse=True)
def keep_the_test_database_open():
    # As Django's test client does: the handler would close the test's connection after each call.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _call(path: str, body: dict | None = None, host: str = "127.0.0.1:8000") -> tuple[str, dict, bytes]:
    raw = orjson.dumps(body) if body is not None else b""
    environ = {
        "REQUEST_METHOD": "POST" if body is not None else "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": host,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
        "wsgi.url_scheme": "http",
    }
    answer = {}

    def start_response(status, headers):
        answer["status"], answer["headers"] = status, dict(headers)

    content = b"".join(application(environ, start_response))
    return answer["status"], answer["headers"], content


@pytest.mark.django_db
def test_api_answers_carry_their_length_so_they_are_not_sent_chunked(default_workspace):
    status, headers, content = _call("/api/2.0/mlflow/experiments/create", {"name": "lengths"})
    assert status.startswith("200")
    assert headers["Content-Length"] == str(len(content))
    experiment_id = orjson.loads(content)["experiment_id"]

    status, headers, content = _call("/api/2.0/mlflow/runs/create", {"experiment_id": experiment_id})
    run_id = orjson.loads(content)["run"]["info"]["run_id"]
    status, headers, content = _call(
        "/api/2.0/mlflow/runs/log-metric",
        {"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0},
    )
    assert (status, headers["Content-Length"], content) == ("200 OK", "2", b"{}")


@pytest.mark.django_db
def test_errors_carry_their_length_too(default_workspace):
    status, headers, content = _call("/api/2.0/mlflow/runs/get-nothing", {})
    assert status.startswith("404")
    assert headers["Content-Length"] == str(len(content))
    assert orjson.loads(content)["error_code"] == "ENDPOINT_NOT_FOUND"


@pytest.mark.django_db
def test_a_host_that_is_not_allowed_is_refused_before_the_api_runs(default_workspace, settings):
    settings.ALLOWED_HOSTS = ["studio.example"]
    status, _, content = _call("/api/2.0/mlflow/experiments/create", {"name": "x"}, host="evil.example")
    assert status.startswith("400")
    assert b"not allowed" in content
