"""`mlflow run . --backend studio`: MLflow Projects submitted to this server's workers.

Registered in pyproject.toml under the entry point group `mlflow.project_backend` (name
`studio`). Runs in the person's own Python, beside the MLflow client, so it imports neither
Django nor the server: it zips the project folder (leaving out what .gitignore files exclude),
posts it to `/api/studio/v1/workspaces/<workspace>/jobs` with the entry point and parameters,
and can follow the job, printing its output as it comes, as `mlflow run` does for a local run.

The server and workspace come from the tracking URI (`http://host:port/ws/<workspace>`, or the
server's root for the default workspace); `--backend-config` may name another workspace
(`{"workspace": "team-a"}`), a time limit (`{"time_limit_seconds": 3600}`), a compute target
(`{"compute": "gpu-a100"}`), and `{"wait": true}`
to follow the job to its end (the `mlflow run` command does not wait for a plugin backend's run;
`mlflow.projects.run(..., synchronous=True)` does). Credentials are
MLflow's own: MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import requests
from mlflow.exceptions import ExecutionException
from mlflow.projects.backend.abstract_backend import AbstractBackend
from mlflow.projects.submitted_run import SubmittedRun
from mlflow.projects.utils import PROJECT_SYNCHRONOUS, fetch_and_validate_project

from .snapshots import SnapshotTooLarge, zip_folder

POLL_SECONDS = 0.5
TIMEOUT_SECONDS = 60
# As the server's default limit; the server refuses a larger snapshot anyway.
MAX_SNAPSHOT_BYTES = 300 * 1024**2
_WORKSPACE_PATH = re.compile(r"^(?P<base>.*?)/ws/(?P<workspace>[a-z0-9-]+)/?$")
# The job's status as MLflow's RunStatus names it.
RUN_STATUS = {
    "QUEUED": "SCHEDULED",
    "RUNNING": "RUNNING",
    "SUCCEEDED": "FINISHED",
    "FAILED": "FAILED",
    "CANCELLED": "KILLED",
}


def server_and_workspace(tracking_uri: str, backend_config: dict) -> tuple[str, str]:
    """(`http://host:port`, workspace) from the tracking URI, the workspace overridable."""
    if not tracking_uri.startswith(("http://", "https://")):
        raise ExecutionException(
            f"The studio backend submits to a Studio server; the tracking URI is {tracking_uri!r}. "
            "Set MLFLOW_TRACKING_URI to http://<server>/ws/<workspace>."
        )
    uri = tracking_uri.rstrip("/")
    match = _WORKSPACE_PATH.match(uri)
    base, workspace = (match["base"], match["workspace"]) if match else (uri, "default")
    return base, str(backend_config.get("workspace") or workspace)


def _session() -> requests.Session:
    session = requests.Session()
    # A script, not a web page: the studio API refuses uploads a page on another site could send.
    session.headers["X-Studio-Client"] = "mlflow-project-backend"
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    elif os.environ.get("MLFLOW_TRACKING_USERNAME"):
        session.auth = (
            os.environ["MLFLOW_TRACKING_USERNAME"],
            os.environ.get("MLFLOW_TRACKING_PASSWORD", ""),
        )
    return session


def _answer(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 400:
        message = body.get("message") or response.text[:500]
        raise ExecutionException(f"The Studio server refused the job ({response.status_code}): {message}")
    return body


class StudioBackend(AbstractBackend):
    def run(
        self,
        project_uri: str,
        entry_point: str,
        params: dict,
        version: str | None,
        backend_config: dict,
        tracking_uri: str,
        experiment_id: str,
    ) -> StudioSubmittedRun:
        base, workspace = server_and_workspace(tracking_uri, backend_config or {})
        folder = Path(fetch_and_validate_project(project_uri, version, entry_point, params))
        session = _session()
        with tempfile.TemporaryFile(suffix=".zip") as snapshot:
            try:
                zip_folder(folder, snapshot, max_bytes=MAX_SNAPSHOT_BYTES)
            except SnapshotTooLarge as error:
                raise ExecutionException(str(error)) from None
            snapshot.seek(0)
            fields = {
                "entry_point": entry_point or "main",
                "parameters": json.dumps({str(k): str(v) for k, v in (params or {}).items()}),
                "experiment_id": str(experiment_id),
                "source_name": project_uri,
                "user": getpass.getuser(),
            }
            if backend_config.get("time_limit_seconds"):
                fields["time_limit_seconds"] = str(int(backend_config["time_limit_seconds"]))
            if backend_config.get("compute"):
                fields["compute"] = str(backend_config["compute"])
            response = session.post(
                f"{base}/api/studio/v1/workspaces/{workspace}/jobs",
                files={"file": (f"{folder.name or 'project'}.zip", snapshot, "application/zip")},
                data=fields,
                timeout=TIMEOUT_SECONDS,
            )
        job = _answer(response)
        url = f"{base}/api/studio/v1/workspaces/{workspace}/jobs/{job['id']}"
        print(f"=== Submitted job {job['id']}: {base}/ws/{workspace}/jobs/{job['id']}/ ===", file=sys.stderr)
        submitted = StudioSubmittedRun(session, url, job)
        # The `mlflow run` command does not wait for a plugin backend's runs; asked to, this does.
        waits = backend_config.get("wait") and not backend_config.get(PROJECT_SYNCHRONOUS)
        if waits and not submitted.wait():
            raise ExecutionException(f"Run (ID '{submitted.run_id}') failed: {submitted.job['error']}")
        return submitted


class StudioSubmittedRun(SubmittedRun):
    """A job on the Studio server; `wait()` prints its output as it comes."""

    def __init__(self, session: requests.Session, url: str, job: dict) -> None:
        self.session, self.url, self.job = session, url, job
        self.offset = 0

    @property
    def run_id(self) -> str:
        return self.job["run_id"]

    def _refresh(self) -> dict:
        self.job = _answer(self.session.get(self.url, timeout=TIMEOUT_SECONDS))
        return self.job

    def _print_output(self) -> bool:
        """Prints what is new; True when the job has ended."""
        while True:
            chunk = _answer(
                self.session.get(
                    f"{self.url}/output", params={"offset": self.offset}, timeout=TIMEOUT_SECONDS
                )
            )
            if chunk["text"]:
                sys.stdout.write(chunk["text"])
                sys.stdout.flush()
            self.offset = chunk["next_offset"]
            if chunk["next_offset"] >= chunk["size"]:
                return chunk["ended"]

    def wait(self) -> bool:
        while not self._print_output():
            time.sleep(POLL_SECONDS)
        self._print_output()  # what the worker wrote as it ended
        job = self._refresh()
        if job["status"] != "SUCCEEDED":
            print(f"=== Job {job['id']} {job['status'].lower()}: {job['error']} ===", file=sys.stderr)
        return job["status"] == "SUCCEEDED"

    def get_status(self) -> str:
        return RUN_STATUS.get(self._refresh()["status"], "RUNNING")

    def cancel(self) -> None:
        _answer(self.session.post(f"{self.url}/cancel", timeout=TIMEOUT_SECONDS))
        self.wait()
