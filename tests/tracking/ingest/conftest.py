"""Fixtures for imports: a file store made by the real MLflow client, copies of it, and importing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class MlflowStore:
    root: Path  # the mlruns folder
    made: dict  # what the builder made: run ids by name, experiment ids, model ids

    def run_id(self, name: str) -> str:
        return self.made["runs"][name]


@pytest.fixture(scope="session")
def built_store(tmp_path_factory) -> MlflowStore:
    """Built once per session, in a child process (MLflow's global state stays out of the tests)."""
    folder = tmp_path_factory.mktemp("mlflow-store")
    done = subprocess.run(
        [sys.executable, "-m", "tests.tracking.ingest.mlflow_store", str(folder)],
        cwd=ROOT,
        env={**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return MlflowStore(folder / "mlruns", json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture
def mlflow_store(built_store, tmp_path) -> MlflowStore:
    """A copy of the built store that the test may change."""
    copy = tmp_path / "source" / "mlruns"
    shutil.copytree(built_store.root, copy, symlinks=True)
    return MlflowStore(copy, built_store.made)


@pytest.fixture(autouse=True)
def import_folders(settings, tmp_path):
    """Artifacts and uploads of this test only."""
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    settings.IMPORTS_DIR = tmp_path / "imports"
    return settings


def import_folder(workspace, path: Path, *, kind: str = "folder"):
    """Imports `path` into `workspace` in this process, as a worker would; returns the ended row."""
    from tracking.ingest.importer import run_import
    from tracking.services.imports import create_import

    row = create_import(workspace=workspace, source_kind=kind, source_path=str(path), enqueue=False)
    return run_import(row.pk, worker="test@here")


def table_counts() -> dict[str, int]:
    """Rows per table of everything an import writes (to show that a second import adds none)."""
    from registry.models import (
        ModelVersion,
        ModelVersionTag,
        RegisteredModel,
        RegisteredModelAlias,
        RegisteredModelTag,
    )
    from tracking import models

    kinds = [
        models.Experiment,
        models.ExperimentTag,
        models.Run,
        models.Param,
        models.RunTag,
        models.Metric,
        models.MetricSummary,
        models.Dataset,
        models.RunInput,
        models.RunModelLink,
        models.LoggedModel,
        models.LoggedModelParam,
        models.LoggedModelTag,
        models.LoggedModelMetric,
        RegisteredModel,
        RegisteredModelTag,
        ModelVersion,
        ModelVersionTag,
        RegisteredModelAlias,
    ]
    return {kind.__name__: kind.objects.count() for kind in kinds}
