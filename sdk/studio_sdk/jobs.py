"""Remote runs: `Experiment(ws, name).submit(ScriptRunConfig(...))` and the `Run` it returns.

`ScriptRunConfig(..., environment=Environment.from_pip_requirements("name", "requirements.txt"))`
(or `from_conda_specification`) runs the script in an environment the worker builds from that
file (and caches); without one, the worker uses the folder's own requirements.txt / conda.yaml /
python_env.yaml, or an environment with just mlflow-skinny.

A submission zips the source folder (leaving out version control, virtual environments and
caches), posts it to the workspace's jobs endpoint, and a worker runs the script with MLflow
pointed at the job's run; `Run` follows the job and reads the run's metrics through MLflow.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import StudioError
from .snapshots import zip_folder
from .workspace import Workspace

FINISHED = {"SUCCEEDED", "FAILED", "CANCELLED"}


@dataclass
class Environment:
    """A job's Python environment: a name and the text of its specification file."""

    name: str
    kind: str  # "pip", "conda" or "python_env"
    spec: str

    @classmethod
    def from_pip_requirements(cls, name: str, file_path: str | os.PathLike) -> Environment:
        """From a pip requirements file (packages by name and version; no options or local paths)."""
        return cls(name=name, kind="pip", spec=Path(file_path).read_text())

    @classmethod
    def from_conda_specification(cls, name: str, file_path: str | os.PathLike) -> Environment:
        """From a conda.yaml: its python version and its `pip:` section (workers have no conda)."""
        return cls(name=name, kind="conda", spec=Path(file_path).read_text())

    @classmethod
    def from_python_env(cls, name: str, file_path: str | os.PathLike) -> Environment:
        """From an MLflow python_env.yaml (python, build_dependencies, dependencies)."""
        return cls(name=name, kind="python_env", spec=Path(file_path).read_text())

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "kind": self.kind, "spec": self.spec})


@dataclass
class ScriptRunConfig:
    source_directory: str | os.PathLike
    script: str
    arguments: list[Any] = field(default_factory=list)
    environment: Environment | None = None
    compute_target: str = ""  # a compute target of the server ("gpu-a100"); the default one if empty

    def command(self) -> str:
        return shlex.join(["python", self.script, *(str(argument) for argument in self.arguments)])


class Experiment:
    def __init__(self, workspace: Workspace, name: str):
        self.workspace = workspace
        self.name = name

    def submit(self, config: ScriptRunConfig, *, run_name: str = "") -> Run:
        source = Path(config.source_directory)
        if not (source / config.script).is_file():
            raise FileNotFoundError(f"{config.script} is not in {source}.")
        fields = {"command": config.command(), "experiment_name": self.name, "run_name": run_name}
        if config.environment is not None:
            fields["environment"] = config.environment.to_json()
        if config.compute_target:
            fields["compute"] = config.compute_target
        with tempfile.TemporaryFile(suffix=".zip") as snapshot:
            zip_folder(source, snapshot)
            snapshot.seek(0)
            response = self.workspace.request(
                "POST",
                "jobs",
                files={"file": (f"{source.resolve().name or 'source'}.zip", snapshot, "application/zip")},
                data=fields,
            )
        return Run(self.workspace, response.json())


class Run:
    """A submitted job's run."""

    def __init__(self, workspace: Workspace, job: dict[str, Any]):
        self.workspace = workspace
        self._job = job

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, job={self.job_id}, status={self.status!r})"

    @property
    def job_id(self) -> int:
        return int(self._job["id"])

    @property
    def id(self) -> str:
        return self._job.get("run_id") or ""

    @property
    def status(self) -> str:
        return self._job.get("status", "")

    def cancel(self) -> dict[str, Any]:
        """Stop the job: a queued one never starts, a running one's processes are killed."""
        self._job = self.workspace.request("POST", f"jobs/{self.job_id}/cancel", json={}).json()
        return self._job

    def refresh(self) -> dict[str, Any]:
        self._job = self.workspace.request("GET", f"jobs/{self.job_id}").json()
        return self._job

    def wait_for_completion(
        self, show_output: bool = False, *, timeout: float | None = None, poll_seconds: float = 1.0
    ) -> dict[str, Any]:
        """Wait until the job ends; raise StudioError if it failed or was cancelled."""
        deadline = None if timeout is None else time.monotonic() + timeout
        offset = 0
        while True:
            job = self.refresh()
            if show_output:
                offset = self._print_output(offset)
            if job.get("status") in FINISHED:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"Job {self.job_id} is still {job.get('status')} after {timeout} s.")
            time.sleep(poll_seconds)
        if job["status"] != "SUCCEEDED":
            raise StudioError(
                f"Job {self.job_id} ended {job['status']}: {job.get('error') or ''}".strip(), job["status"]
            )
        return job

    def _print_output(self, offset: int) -> int:
        try:
            body = self.workspace.request(
                "GET", f"jobs/{self.job_id}/output", params={"offset": offset}
            ).json()
        except StudioError:
            return offset
        text = body.get("text") or body.get("output") or ""
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()
        return int(body.get("next_offset", offset + len(text.encode())))

    def _client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.workspace.get_mlflow_tracking_uri())

    def get_metrics(self) -> dict[str, Any]:
        """Every metric of the run: its value, or the list of its values (by step) if it has several."""
        client = self._client()
        metrics: dict[str, Any] = {}
        for key in sorted(client.get_run(self.id).data.metrics):
            history = sorted(client.get_metric_history(self.id, key), key=lambda m: (m.step, m.timestamp))
            values = [point.value for point in history]
            metrics[key] = values[0] if len(values) == 1 else values
        return metrics

    def register_model(self, model_name: str, model_path: str, **kwargs: Any):
        """Register the model the run logged at `model_path` as a new version of `model_name`.

        The version goes to the run's workspace: MLflow's registry URI is set to it (as the
        tracking URI already is in the seed's code), since MLflow's own registration logic
        (which finds a logged model behind `runs:/`) reads the registry URI from there.
        """
        import mlflow

        mlflow.set_registry_uri(self.workspace.get_mlflow_tracking_uri())
        return mlflow.register_model(
            f"runs:/{self.id}/{model_path.strip('/')}",
            model_name,
            **kwargs,
        )
