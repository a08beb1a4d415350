"""The WSGI application gunicorn serves (studio/wsgi.py): one routing table, two lanes.

Django's URL configuration decides where every path goes; MLflow's API then takes a short lane
through the host check and the header middleware. These tests walk every URL pattern (and every
RPC of MLflow's API) through `studio.wsgi.application` and through Django's own full handler,
and expect the same answer from both, with the security headers on each.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from contextlib import contextmanager

import orjson
import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from studio.wsgi import application
from tests.deployed import ROOT
from tracking.api.spec import RPCS

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
# A value for each kind of path converter, and for each named group of the regex routes.
CONVERTER_SAMPLES = {"slug": "default", "int": "1", "id": "1", "str": "x", "path": "x/y"}
# Regex routes cannot be filled in generically: each gets examples of the paths it serves.
REGEX_EXAMPLES = {
    r"^(?:ajax-)?api/(?P<api_path>[0-9]+\.0/[\s\S]+)\Z": [
        "/api/2.0/mlflow/experiments/search",
        "/api/3.0/mlflow/issues/a%0Ab",
    ],
    r"^ws/(?P<workspace_name>[a-z0-9-]+)/(?:ajax-)?api/(?P<api_path>[0-9]+\.0/[\s\S]+)\Z": [
        "/ws/default/ajax-api/2.0/mlflow/runs/search"
    ],
    r"^(?:ws/(?P<workspace_name>[a-z0-9-]+)/)?gateway/mlflow/v1/chat/completions$": [
        "/gateway/mlflow/v1/chat/completions",
        "/ws/default/gateway/mlflow/v1/chat/completions",
    ],
    r"^(?:ws/(?P<workspace_name>[a-z0-9-]+)/)?gateway/(?P<endpoint_name>[^/]+)/mlflow/invocations$": [
        "/gateway/chat/mlflow/invocations",
        "/ws/default/gateway/chat/mlflow/invocations",
    ],
    r"^v1/traces$": ["/v1/traces"],
    r"^ws/(?P<workspace_name>[a-z0-9-]+)/v1/traces$": ["/ws/default/v1/traces"],
    r"^/*(?:ws/(?P<workspace_name>[a-z0-9-]+)/)?(?P<api_path>get-artifact|model-versions/get-artifact|graphql)$": [
        "/get-artifact",
        "/ws/default/model-versions/get-artifact",
        "//model-versions/get-artifact",
        "/graphql",
    ],
    r"^api/studio/(?P<path>.*)$": ["/api/studio/v2/jobs", "/api/studio/v1/workspaces/default/teleport"],
    r"^(?:ws/(?P<workspace_name>[a-z0-9-]+)/)?(?:ajax-)?api/(?P<api_path>[\s\S]*)\Z": [
        "/ws/default/api/teleport",
        "/ajax-api/",
    ],
}


@contextmanager
def keeping_the_test_database_open():
    """As Django's test client does around each request: the handler would otherwise close the
    test's connection (it is inside the test's transaction) when the request starts and ends."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _call(
    path: str, body: dict | None = None, host: str = "127.0.0.1:8000", method: str | None = None
) -> tuple[str, dict, bytes]:
    raw = orjson.dumps(body) if body is not None else b""
    environ = {
        "REQUEST_METHOD": method or ("POST" if body is not None else "GET"),
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

    with keeping_the_test_database_open():
        answer_body = application(environ, start_response)
        try:
            content = b"".join(answer_body)
        finally:
            answer_body.close()
    return answer["status"], answer["headers"], content


def _examples(patterns, prefix: str = "") -> list[tuple[str, str]]:
    """(pattern, an example path) for every URL pattern, includes unfolded."""
    found = []
    for entry in patterns:
        text = str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += _examples(entry.url_patterns, prefix + text)
            continue
        assert isinstance(entry, URLPattern)
        if text.startswith("^"):
            assert text in REGEX_EXAMPLES, f"add example paths for the route {text} to REGEX_EXAMPLES"
            found += [(text, example) for example in REGEX_EXAMPLES[text]]
            continue
        filled = re.sub(r"<(?:(\w+):)?\w+>", lambda m: CONVERTER_SAMPLES[m.group(1) or "str"], prefix + text)
        found.append((prefix + text, "/" + filled))
    return found


ROUTES = _examples(get_resolver().url_patterns)


def _rpc_calls() -> list[tuple[str, str]]:
    calls = []
    for _name, _message, endpoints in RPCS:
        for method, path, major in endpoints:
            concrete = re.sub(r"\{[\w.]+\}|<(?:path:)?\w+>", "x", path.lstrip("/"))
            calls.append((method, f"/api/{major}.0/{concrete}"))
            calls.append((method, f"/ws/default/ajax-api/{major}.0/{concrete}"))
    return calls


def _assert_same_answer(method: str, path: str) -> None:
    status, headers, content = _call(path, method=method, body={} if method != "GET" else None)
    django_answer = Client(enforce_csrf_checks=True).generic(
        method, path, data=b"{}" if method != "GET" else b"", content_type="application/json"
    )
    assert int(status.split()[0]) == django_answer.status_code, (method, path, content[:300])
    assert headers.get("Content-Type") == django_answer.headers.get("Content-Type"), (method, path)
    if headers.get("Content-Type") == "application/json" and method != "GET":
        assert orjson.loads(content).get("error_code") == orjson.loads(django_answer.content).get(
            "error_code"
        ), (method, path)
    for name, value in SECURITY_HEADERS.items():
        if name == "X-Frame-Options" and "Content-Security-Policy" in headers:
            continue  # previews meant for the studio's own frames say SAMEORIGIN
        assert headers.get(name) == value, (method, path, name, headers)


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "path"), ROUTES, ids=[route for route, _ in ROUTES])
def test_every_route_answers_the_same_through_the_wsgi_application_as_through_django(
    default_workspace, route, path
):
    _assert_same_answer("GET", path)


@pytest.mark.django_db
def test_every_rpc_of_mlflow_s_api_answers_the_same_through_both_lanes(default_workspace):
    for method, path in _rpc_calls():
        _assert_same_answer(method, path)


@pytest.mark.django_db
def test_the_studio_api_is_not_taken_for_mlflow_s_api(default_workspace):
    status, _headers, content = _call("/api/studio/v1/workspaces/default/jobs")
    assert status.startswith("200"), content
    assert "jobs" in orjson.loads(content)


@pytest.mark.django_db
def test_an_unknown_api_path_answers_endpoint_not_found_in_json(default_workspace):
    for path in ("/api/studio/v1/teleport", "/ws/default/api/2.0/mlflow/teleport", "/api/nothing"):
        status, headers, content = _call(path)
        assert status.startswith("404"), path
        assert orjson.loads(content)["error_code"] == "ENDPOINT_NOT_FOUND"
        assert headers["X-Content-Type-Options"] == "nosniff"


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
    assert b"experiment_id" not in content


def test_loading_the_application_imports_every_view_and_leaves_no_connection_open():
    """Gunicorn's master loads studio.wsgi before it forks its workers (preload_app): what it
    imports, the workers share and need not import on their first request; a database
    connection it left open, they would share too."""
    probe = (
        "import sys\n"
        "from studio.wsgi import application\n"
        "from django.db import connections\n"
        "from django.urls import get_resolver\n"
        "from tracking.api.router import ROUTES\n"
        "print('studio.urls' in sys.modules, get_resolver()._populated, ROUTES._built)\n"
        "print([c.alias for c in connections.all(initialized_only=True) if c.connection is not None])\n"
    )
    answer = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    ).stdout.splitlines()
    assert answer == ["True True True", "[]"]
