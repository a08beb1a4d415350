"""The real `mlflow` client against a live server (pytest-django's live_server)."""

from __future__ import annotations

import os

import pytest

from tests.conftest import ensure_default_workspace

pytestmark = pytest.mark.compat


@pytest.fixture
def tracking_uri(live_server, transactional_db) -> str:
    ensure_default_workspace()
    return live_server.url


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
def artifact_root(settings, tmp_path):
    """Artifacts of this test only, so a test can count the files on disk."""
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    return settings.ARTIFACT_ROOT
