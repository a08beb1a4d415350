"""`manage.py serve` as `make run` and docker-compose start it, for the suites that drive the server
as it ships: gunicorn with the real WSGI handler (studio.wsgi), and a real Celery worker with beat.

A server is started once per configuration and kept for the whole test run; each test gets it
after pytest-django has emptied the test database it shares with the server. What a server needs
to differ in (sign-in required, short-lived tokens, small limits) is its environment, as in
production: `deployed_servers.get(STUDIO_REQUIRE_AUTH="true")`.

Each server has a data folder of its own (its broker folder or Redis database, its beat schedule,
its cache) and shares with the tests what they inspect: the test database, the artifact root, the
jobs and imports folders, and the secret key (so a session made in the test is valid there too).
Access look-ups are not cached between requests (STUDIO_ACCESS_CACHE_SECONDS=0: the database is
emptied between tests, and a cached token or workspace would outlive its rows); passwords are
checked with MD5 (`tests.deployed_settings`), as the personas' users are hashed in the tests.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_SECONDS = 90
STOP_TIMEOUT_SECONDS = 15


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float, what: str | Callable[[], str]) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what() if callable(what) else what}")


def stop_group(process: subprocess.Popen, grace: float = 15) -> None:
    """Stops a process started in a group of its own, and all it started: politely, then not."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def database_url_of_test_database() -> str:
    """The URL of the database this test run uses, for a child process to share it."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgresql://{user}{password}@{host}:{port}/{db['NAME']}"


def _redis_database(url: str, number: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{number}"))


@dataclass
class DeployedServer:
    """One `manage.py serve`: its address, its process, its log and its data folder."""

    name: str
    environment: dict[str, str]
    data_dir: Path
    url: str = ""
    process: subprocess.Popen | None = None
    # Where `serve` runs from (the repository, as `make run`; MLflow's test runner gives each
    # server the folder its tests run in, as `mlflow server` is started there).
    working_dir: Path = ROOT
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.data_dir / "serve.log"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        env = {**os.environ, **self.environment, "STUDIO_PORT": str(port)}
        self.url = f"http://127.0.0.1:{port}"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), "serve"],
                cwd=self.working_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self._ready, START_TIMEOUT_SECONDS, lambda: f"{self.name} to start: {self.log_tail()}")

    def _ready(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited at start: {self.log_tail()}")
        try:
            healthy = requests.get(f"{self.url}/health", timeout=2).text == "OK"
        except requests.RequestException:
            return False
        # The worker says so once it consumes its queue; a job submitted before would wait.
        return healthy and b" ready." in self.log_path.read_bytes()

    def worker_pid(self) -> int:
        """The pid of the server's Celery worker (a child of `serve`)."""
        children = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout
        for pid in map(int, children.split()):
            if b"celery" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        raise AssertionError(f"{self.name} has no worker: {self.log_tail()}")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        self.ask_to_stop()
        self.wait_stopped(time.monotonic() + STOP_TIMEOUT_SECONDS)

    def ask_to_stop(self) -> None:
        if self.alive:
            self.process.send_signal(signal.SIGTERM)  # serve stops gunicorn and the worker

    def wait_stopped(self, deadline: float) -> None:
        """Waits for a server asked to stop until `deadline` (monotonic), then kills what is left."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def manage(self, *arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """`manage.py <arguments>` run as an operator would on this server's machine: with its
        settings (database, broker, folders), the address jobs reach it at included."""
        env = {**os.environ, **self.environment, "STUDIO_SERVER_URL": self.url}
        return subprocess.run(
            [sys.executable, "manage.py", *arguments],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start_worker(self, *arguments: str, log_path: Path) -> subprocess.Popen:
        """`manage.py serve --only worker <arguments>` on this server's database and broker, as a
        second machine would run it (its process group of its own, for the caller to stop)."""
        env = {**os.environ, **self.environment, "STUDIO_SERVER_URL": self.url}
        with log_path.open("wb") as log:
            return subprocess.Popen(
                [sys.executable, "manage.py", "serve", "--only", "worker", *arguments],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def forget_cache(self) -> None:
        """The server's shared cache (log-in throttling, chart buckets) starts each test empty."""
        for entry in (self.data_dir / "cache").glob("*.djcache"):
            entry.unlink(missing_ok=True)

    def log_tail(self, size: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except FileNotFoundError:
            return "(no log)"


class ServerPool:
    """Servers by configuration, started on first use and stopped at the end of the test run."""

    def __init__(self, folder: Path) -> None:
        from django.conf import settings

        self.folder = folder
        self.servers: dict[tuple[tuple[str, str], ...], DeployedServer] = {}
        self.shared = {
            "DJANGO_SETTINGS_MODULE": "tests.deployed_settings",
            "DATABASE_URL": database_url_of_test_database(),
            "STUDIO_SECRET_KEY": settings.SECRET_KEY,
            "STUDIO_ARTIFACT_ROOT": str(settings.ARTIFACT_ROOT),
            "STUDIO_JOBS_DIR": str(settings.JOBS_DIR),
            "STUDIO_IMPORTS_DIR": str(settings.IMPORTS_DIR),
            "STUDIO_ENVIRONMENTS_DIR": str(settings.ENVIRONMENTS_DIR),
            "STUDIO_HOST": "127.0.0.1",
            "STUDIO_WEB_WORKERS": "2",
            "STUDIO_WORKER_CONCURRENCY": "2",
            "STUDIO_ACCESS_CACHE_SECONDS": "0",
            "STUDIO_JOB_LOG_FLUSH_MS": "200",
            "STUDIO_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            # The servers of a test run share one database, so any of their workers may deliver
            # any alert: all of them post to the tests' local webhooks and retry within a second.
            "STUDIO_ALERTS_ALLOW_PRIVATE_WEBHOOKS": "true",
            "STUDIO_ALERTS_WEBHOOK_RETRY_SECONDS": "1",
        }
        self.broker = settings.CELERY_BROKER_URL

    def get(self, **environment: str) -> DeployedServer:
        key = tuple(sorted(environment.items()))
        server = self.servers.get(key)
        if server is not None and server.alive:
            return server
        number = len(self.servers) + 1
        env = {**self.shared, **environment}
        env["STUDIO_DATA_DIR"] = str(self.folder / f"server-{number}")
        if self.broker.startswith(("redis://", "rediss://")):
            # A Redis database of its own, emptied first: no server takes another's tasks, nor
            # the tasks of the suite's own workers (tests/integration, on the suite's database),
            # and none takes the tasks a previous test run left behind. 14 and 15 are the
            # topology test's (tests/integration/test_topology.py).
            suite_database = int(urlsplit(self.broker).path.lstrip("/") or 0)
            free = [database for database in range(14) if database != suite_database]
            env["CELERY_BROKER_URL"] = _redis_database(self.broker, free[(number - 1) % len(free)])
            import redis

            redis.Redis.from_url(env["CELERY_BROKER_URL"]).flushdb()
        described = ", ".join(f"{k}={v}" for k, v in key) or "the defaults"
        server = DeployedServer(name=f"manage.py serve #{number} ({described})", environment=env,
                                data_dir=Path(env["STUDIO_DATA_DIR"]))  # fmt: skip
        server.start()
        self.servers[key] = server
        return server

    def stop_all(self) -> None:
        # All at once: each takes seconds to stop gracefully (the worker finishes its broker poll
        # and its beat), which one after another cost the suite about a minute.
        for server in self.servers.values():
            server.ask_to_stop()
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for server in self.servers.values():
            server.wait_stopped(deadline)


@pytest.fixture(scope="session")
def deployed_servers(django_db_setup, django_db_blocker, tmp_path_factory, object_store_service):
    """The pool of `manage.py serve` processes; they stop before the test database is dropped.

    They use the run's artifact store (tests/object_stores.py), and its service's environment."""
    pool = ServerPool(tmp_path_factory.mktemp("deployed"))
    if object_store_service is not None:
        pool.shared.update(object_store_service.environment)
    yield pool
    pool.stop_all()


def _fresh(server: DeployedServer) -> DeployedServer:
    from tests.conftest import ensure_default_workspace

    ensure_default_workspace()
    server.forget_cache()
    return server


@pytest.fixture
def deployed(transactional_db, deployed_servers) -> DeployedServer:
    """The server as `make run` starts it on a laptop: local mode, no sign-in."""
    return _fresh(deployed_servers.get())


@pytest.fixture
def deployed_with_sign_in(transactional_db, deployed_servers, auth_on) -> DeployedServer:
    """The server as deployed beyond loopback: every request must authenticate.

    `auth_on` makes the tests' own process agree (its pages and checks require sign-in too)."""
    return _fresh(deployed_servers.get(STUDIO_REQUIRE_AUTH="true"))


@pytest.fixture
def deployed_server(transactional_db, deployed_servers) -> Callable[..., DeployedServer]:
    """A server with settings of its own: `deployed_server(STUDIO_MAX_REQUEST_BYTES="1000")`."""

    def get(**environment: str) -> DeployedServer:
        return _fresh(deployed_servers.get(**environment))

    return get
