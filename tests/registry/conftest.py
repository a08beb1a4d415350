"""Registry fixtures: a run with a model folder in the artifact store, and registered versions."""

from __future__ import annotations

import io
import json

import pytest

from registry.services.model_versions import create_model_version
from registry.services.registered_models import create_registered_model
from tracking.services.artifacts import proxy_path, save_artifact
from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run

SIGNATURE_INPUTS = [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}]
SIGNATURE_OUTPUTS = [{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]

MLMODEL = f"""\
artifact_path: model
flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.skops
    predict_fn: predict
    python_version: 3.11.7
  sklearn:
    pickled_model: model.skops
    serialization_format: skops
    sklearn_version: 1.5.0
mlflow_version: 3.17.2
model_uuid: 0a1b2c3d
run_id: abc
saved_input_example_info:
  artifact_path: input_example.json
  type: ndarray
signature:
  inputs: '{json.dumps(SIGNATURE_INPUTS)}'
  outputs: '{json.dumps(SIGNATURE_OUTPUTS)}'
  params: null
utc_time_created: '2026-01-01 10:00:00.000000'
"""

MODEL_FILES = {
    "MLmodel": MLMODEL,
    "model.skops": "binary-ish model bytes",
    "requirements.txt": "mlflow==3.17.2\nscikit-learn==1.5.0\n",
    "conda.yaml": "name: mlflow-env\ndependencies:\n- python=3.11.7\n",
    "python_env.yaml": "python: 3.11.7\ndependencies:\n- -r requirements.txt\n",
    "input_example.json": '{"inputs": [[0.1, 0.2, 0.3, 0.4]]}',
}


@pytest.fixture(autouse=True)
def artifact_root(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    return settings.ARTIFACT_ROOT


@pytest.fixture
def workspace(default_workspace):
    return default_workspace


@pytest.fixture
def experiment(workspace):
    return create_experiment(workspace=workspace, name="registry-tests")


@pytest.fixture
def run(experiment):
    return create_run(experiment=experiment)


def write_files(workspace, folder_uri: str, files: dict[str, str | bytes]) -> str:
    """Saves `files` under an artifact URI of this server (`mlflow-artifacts:/...`); returns the URI."""
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        save_artifact(workspace=workspace, path=f"{proxy_path(folder_uri)}/{name}", stream=io.BytesIO(data))
    return folder_uri


@pytest.fixture
def model_source(workspace, run) -> str:
    """The `model` folder of `run`, holding a complete scikit-learn model."""
    return write_files(workspace, f"{run.artifact_uri}/model", MODEL_FILES)


@pytest.fixture
def registered(workspace):
    return create_registered_model(workspace=workspace, name="registered")


def register(workspace, model, run, source, **kwargs):
    return create_model_version(workspace=workspace, model=model, source=source, run_id=run.uuid, **kwargs)
