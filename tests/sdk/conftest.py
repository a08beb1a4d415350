"""The SDK (sdk/studio_sdk) as its users import it: `make` installs it beside the server (whose
`manage.py submit_job` zips folders with it), as `pip install ./sdk` does on a client machine."""

from __future__ import annotations

from pathlib import Path

import pytest

SDK = Path(__file__).resolve().parents[2] / "sdk"


@pytest.fixture(autouse=True)
def no_active_workspace(monkeypatch):
    """Each test starts and ends with no workspace's token being sent by MLflow."""
    from studio_sdk import auth

    monkeypatch.delenv("STUDIO_TOKEN", raising=False)
    for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    auth.activate(None)
    yield
    auth.activate(None)


@pytest.fixture
def fluent():
    """MLflow's fluent API, its tracking and registry URIs reset afterwards."""
    import os

    import mlflow

    yield mlflow
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.tracking.fluent._active_experiment_id = None
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)
    for variable in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID"):
        os.environ.pop(variable, None)
