"""The two servers MLflow's tests run against, each started fresh in a folder of its own.

- ours: `manage.py serve` as `make run` starts it (SQLite and the filesystem broker in its data
  folder, gunicorn and a Celery worker), through tests/deployed.py's DeployedServer.
- mlflow: `mlflow server` (the installed 3.17.2) on SQLite, proxying artifacts to a local folder.

Each is reset between tests by the plugin (mlflow_target_plugin.reset_target): its SQLite file
gets back the rows it had once the server first answered (kept in a copy taken then), and its
artifact folders are emptied; the servers keep running.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.deployed import START_TIMEOUT_SECONDS, DeployedServer, free_port, stop_group, wait_for
from tests.upstream.mlflow_target_plugin import PASSPHRASE

TARGETS = ("ours", "mlflow")


@dataclass
class Target:
    """A running server, and what the plugin needs to reset it."""

    name: str
    folder: Path
    url: str
    database: Path
    emptied_folders: list[Path]
    log_path: Path
    alive: Callable[[], bool]
    artifacts_destination: Path | None = None
    pristine_database: Path = field(init=False)

    def __post_init__(self) -> None:
        self.pristine_database = self.database.with_name(f"{self.database.stem}.pristine.sqlite3")

    def keep_pristine_copy(self) -> None:
        """Copies the database as the server left it ready: what each reset restores."""
        self.pristine_database.unlink(missing_ok=True)
        live = sqlite3.connect(self.database, timeout=30)
        copy = sqlite3.connect(self.pristine_database)
        try:
            live.backup(copy)
        finally:
            copy.close()
            live.close()

    def environment(self) -> dict[str, str]:
        return {
            "UPSTREAM_TARGET": self.name,
            "UPSTREAM_URL": self.url,
            "UPSTREAM_DATABASE": str(self.database),
            "UPSTREAM_PRISTINE_DATABASE": str(self.pristine_database),
            "UPSTREAM_EMPTIED_FOLDERS": os.pathsep.join(map(str, self.emptied_folders)),
            "UPSTREAM_ARTIFACTS_DESTINATION": str(self.artifacts_destination or ""),
        }


def _warm_up(url: str) -> None:
    """One call through the tracking API, so what a server creates on first use (the default
    workspace, the default experiment) is in the copy each reset restores."""
    response = requests.post(f"{url}/api/2.0/mlflow/experiments/search", json={"max_results": 1}, timeout=30)
    response.raise_for_status()


def _default_workspace_prefix(database: Path) -> str:
    """Where the default workspace's files lie under the artifact root (`workspaces/<id>`, as
    `tracking.services.artifacts.workspace_prefix` names it): the folder MLflow's tests call the
    artifact destination, since what the client sends through the proxy lands there unchanged."""
    connection = sqlite3.connect(database, timeout=30)
    try:
        (workspace_id,) = connection.execute(
            "SELECT id FROM tracking_workspace WHERE name = 'default'"
        ).fetchone()
    finally:
        connection.close()
    return f"workspaces/{workspace_id}"


@contextmanager
def ours(folder: Path) -> Iterator[Target]:
    """`manage.py serve` on a fresh SQLite database and data folder, migrated as `make run` does.

    Access look-ups are not cached between requests (STUDIO_ACCESS_CACHE_SECONDS=0): the rows are
    replaced at each reset, as tests/deployed.py's servers have them replaced by pytest-django."""
    data = folder / "data"
    database = data / "studio.sqlite3"
    server = DeployedServer(
        name="manage.py serve (ours)",
        environment={
            "DJANGO_SETTINGS_MODULE": "studio.settings",
            "STUDIO_DATA_DIR": str(data),
            "DATABASE_URL": f"sqlite:///{database}",
            "CELERY_BROKER_URL": "filesystem://",
            "STUDIO_HOST": "127.0.0.1",
            "STUDIO_ACCESS_CACHE_SECONDS": "0",
            "STUDIO_LOG_LEVEL": "WARNING",
            # MLflow's secrets fixtures start its server with MLFLOW_CRYPTO_KEK_PASSPHRASE (as
            # mlflow() below does); ours is STUDIO_SECRETS_KEY, so the gateway's secrets are
            # sealed with a configured key and GetSecretsConfig reports no default passphrase.
            "STUDIO_SECRETS_KEY": PASSPHRASE,
            "PYTHONUNBUFFERED": "1",
        },
        data_dir=data,
        # As `mlflow server` below: the folder the tests run in, which MLflow's tests take as
        # the server's working directory (a relative artifact location resolves there).
        working_dir=folder,
    )
    data.mkdir(parents=True, exist_ok=True)
    migrated = server.manage("migrate", "--noinput", "-v", "0")
    if migrated.returncode != 0:
        raise RuntimeError(f"manage.py migrate failed:\n{migrated.stdout}\n{migrated.stderr}")
    server.start()
    try:
        _warm_up(server.url)
        target = Target(
            name="ours",
            folder=folder,
            url=server.url,
            database=database,
            emptied_folders=[data / "artifacts", data / "cache"],
            log_path=server.log_path,
            alive=lambda: server.alive,
            artifacts_destination=data / "artifacts" / _default_workspace_prefix(database),
        )
        target.keep_pristine_copy()
        yield target
    finally:
        server.stop()


@contextmanager
def mlflow(folder: Path) -> Iterator[Target]:
    """`mlflow server` with a SQLite backend and its artifact proxy (`--artifacts-destination`),
    its tables created before it starts (as MLflow's own artifacts_server fixture does)."""
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "mlflow.db"
    artifacts = folder / "mlartifacts"
    backend = f"sqlite:///{database}"
    subprocess.run(
        [sys.executable, "-c",
         "import sys; from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as S; "
         "S(sys.argv[1], sys.argv[2]).engine.dispose()", backend, str(artifacts)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = folder / "mlflow-server.log"
    environment = {
        **os.environ,
        "MLFLOW_CRYPTO_KEK_PASSPHRASE": PASSPHRASE,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PYTHONUNBUFFERED": "1",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
             "--backend-store-uri", backend, "--artifacts-destination", str(artifacts),
             "--workers", "2"],
            cwd=folder, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited at start: {log_path.read_text()[-4000:]}")
        try:
            return requests.get(f"{url}/health", timeout=2).ok
        except requests.RequestException:
            return False

    try:
        wait_for(ready, START_TIMEOUT_SECONDS, "mlflow server to start")
        _warm_up(url)
        target = Target(
            name="mlflow",
            folder=folder,
            url=url,
            database=database,
            emptied_folders=[artifacts],
            log_path=log_path,
            alive=lambda: process.poll() is None,
            artifacts_destination=artifacts,
        )
        target.keep_pristine_copy()
        yield target
    finally:
        stop_group(process)


STARTERS = {"ours": ours, "mlflow": mlflow}
