"""The real `mlflow` client against the server as it ships (`manage.py serve`, tests/deployed.py)."""

from __future__ import annotations

import os

import pytest

from tracking.artifacts import ArtifactStore

pytestmark = pytest.mark.compat


@pytest.fixture
def tracking_uri(deployed) -> str:
    return deployed.url


@pytest.fixture
def small_limits_uri(deployed_server) -> str:
    """A server that takes request bodies and artifact files of at most 1,000 bytes."""
    return deployed_server(STUDIO_MAX_REQUEST_BYTES="1000", STUDIO_MAX_ARTIFACT_BYTES="1000").url


@pytest.fixture
def client(tracking_uri):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


@pytest.fixture
def fluent(tracking_uri):
    """The fluent API (`mlflow.start_run()` ...) pointed at the live server, reset afterwards."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    yield mlflow
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.tracking.fluent._active_experiment_id = None
    mlflow.set_registry_uri(None)
    # set_experiment() also exports the choice to the environment, for child processes.
    for variable in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID"):
        os.environ.pop(variable, None)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/compat/" in str(item.fspath):
            item.add_marker(pytest.mark.compat)


@pytest.fixture
def artifact_root(tracking_uri) -> ArtifactStore:
    """The default workspace's part of the server's artifact store (a folder, or a prefix of a
    bucket), so a test can see what was stored; a new workspace row each test, so a part of its
    own (emptied of what an earlier test run may have left under the same id)."""
    from tracking.artifacts import default_store
    from tracking.models import Workspace
    from tracking.services.artifacts import workspace_prefix, workspace_store

    workspace = Workspace.objects.get(name="default")
    default_store().delete(workspace_prefix(workspace))
    return workspace_store(workspace)


@pytest.fixture
def streaming_uri(deployed_server, tracking_uri) -> str:
    """A server whose downloads stream through it even from an object store (no redirects to
    signed URLs), for the tests of what the proxy itself answers: ranges, types, headers."""
    from tracking.artifacts import default_store

    if not default_store().supports_direct_transfers:
        return tracking_uri
    return deployed_server(STUDIO_ARTIFACT_PRESIGNED_DOWNLOADS="false").url


@pytest.fixture
def tracing(fluent, monkeypatch):
    """The fluent API with traces exported as they end."""
    # Synchronous export, so a trace is on the server when the traced call returns.
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
    import mlflow.tracing.export.mlflow_v3  # noqa: F401
    from mlflow.tracing.provider import reset

    reset()
    yield fluent
    reset()
