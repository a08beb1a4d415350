"""Routing: derived paths, path parameters, unknown endpoints, wrong methods."""

from __future__ import annotations

import pytest

from tracking.api.router import ROUTES, _to_regex
from tracking.errors import EndpointNotFound


def test_plain_paths_resolve_by_version_and_path():
    routes, args = ROUTES.match("2.0/mlflow/runs/log-batch")
    assert routes["POST"].rpc == "logBatch"
    assert args == {}


def test_paths_with_parameters_capture_them():
    routes, args = ROUTES.match("2.0/mlflow/logged-models/m-123/tags/my.key")
    assert routes["DELETE"].rpc == "deleteLoggedModelTag"
    assert args == {"model_id": "m-123", "tag_key": "my.key"}


def test_artifact_paths_capture_the_rest_of_the_path():
    routes, args = ROUTES.match("2.0/mlflow-artifacts/artifacts/1/abc/artifacts/dir/file.txt")
    assert "PUT" in routes
    assert args == {"artifact_path": "1/abc/artifacts/dir/file.txt"}


def test_the_wrong_api_version_is_not_found():
    with pytest.raises(EndpointNotFound):
        ROUTES.match("3.0/mlflow/runs/log-batch")


def test_path_templates_become_anchored_patterns():
    assert (
        _to_regex("2.0/mlflow/traces/{request_id}/tags") == r"2\.0/mlflow/traces/(?P<request_id>[^/]+)/tags"
    )
