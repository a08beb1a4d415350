"""The SDK (sdk/studio_sdk) as its users import it.

A fresh clone's `make test` does not install the SDK into the venv, so the tests put `sdk/` on
sys.path; `Workspace.get_mlflow_tracking_uri()` registers the header provider itself when the
package's entry point was not loaded, which is what happens here. The entry point that
`pip install ./sdk` declares is checked separately (test_sdk_package.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

SDK = Path(__file__).resolve().parents[2] / "sdk"
if str(SDK) not in sys.path:
    sys.path.insert(0, str(SDK))


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
