"""A pytest plugin that points MLflow's own live-server tests at a server started elsewhere.

MLflow's tests start their server through fixtures: `mlflow_client` and `mlflow_client_with_secrets`
(tests/tracking/test_rest_tracking.py), `client` (test_model_registry.py), all an in-process
FastAPI app on a fresh SQLite copy, and `artifacts_server` (test_mlflow_artifacts.py), an
`mlflow server`. This plugin replaces those fixtures, in each module before pytest reads them, by
fixtures that empty the target server (`reset_target`) and hand the test a client for it. The
store type is the target's own: the tests parametrized over file/sqlalchemy run once, as
`[sqlalchemy]` (MLflow skips its file store).

Tests that never reach a live-server fixture (they start their own server, or call MLflow's
handlers and stores in-process) say nothing about the target: they are skipped as "not applicable"
on both targets. Tests that look at MLflow's server-side state (its SQL store, its artifact folder,
its handlers) are skipped as "not applicable" on our server only.

It is loaded by `python -m tests.upstream` (`-p mlflow_target_plugin`, this folder on PYTHONPATH)
in a pytest run whose `tests` package is MLflow's, and reads its target from the environment:
UPSTREAM_TARGET (ours | mlflow), UPSTREAM_URL, UPSTREAM_DATABASE and UPSTREAM_PRISTINE_DATABASE
(the live SQLite file and its copy as the server left it ready), UPSTREAM_EMPTIED_FOLDERS (folders
emptied at each reset, os.pathsep-separated), UPSTREAM_ARTIFACTS_DESTINATION (where MLflow's proxy
keeps artifacts), UPSTREAM_TEST_TIMEOUT (seconds) and UPSTREAM_DONE_FILE (the node ids an earlier
run already has outcomes for, one a line: left out of this one).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import shutil
import signal
import sqlite3
from pathlib import Path
from typing import NamedTuple

# Bind `mlflow` to the installed client before pytest puts the checkout's root on sys.path: a full
# checkout also has an `mlflow/` folder, and the tests must exercise the installed client.
import mlflow
import pytest
import requests

NOT_APPLICABLE = "not applicable"
TARGET_DOWN = "the target server stopped answering"
LIVE_SERVER_FIXTURES = ("mlflow_client", "mlflow_client_with_secrets", "client", "artifacts_server")
# What in a test's source shows it looks at MLflow's own server-side state rather than at what the
# server answers; each with the reason the report gives.
SERVER_SIDE_MARKERS = {
    "SqlAlchemyStore(": "reads or writes MLflow's SQL store directly",
    "backend_store_uri": "opens the server's backend store URI with a client of its own",
    "initialize_backend_stores": "initializes MLflow's in-process handlers",
    "handlers.": "calls MLflow's server handlers in-process",
    "ServerThread(": "starts an MLflow server of its own",
    'mock.patch("mlflow.server': "patches MLflow's server code in-process",
    "mlflow.server.": "uses MLflow's server code in-process",
}
PASSPHRASE = "test-passphrase-at-least-32-characters-long"


def target() -> str:
    return os.environ.get("UPSTREAM_TARGET", "")


def target_url() -> str:
    return os.environ["UPSTREAM_URL"]


# --- Resetting the target -------------------------------------------------------------------------


def restore_sqlite(live: Path, pristine: Path) -> None:
    """Puts back in `live` every row of `pristine` (the same schema), and only those.

    The server keeps running: this is what `DELETE FROM` each table and a copy of the first rows
    amount to, in one transaction, and takes milliseconds where a restart takes seconds."""
    connection = sqlite3.connect(live, timeout=30, isolation_level=None)
    try:
        connection.execute("PRAGMA foreign_keys = OFF")
        connection.execute("ATTACH DATABASE ? AS pristine", (f"file:{pristine}?mode=ro",))
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_stat%'"
            )
        ]
        connection.execute("BEGIN IMMEDIATE")
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            # Generated columns are computed, never inserted.
            columns = ", ".join(
                '"' + column.replace('"', '""') + '"'
                for (column, hidden) in connection.execute(
                    "SELECT name, hidden FROM pragma_table_xinfo(?, 'main')", (table,)
                )
                if hidden == 0
            )
            connection.execute(f"DELETE FROM main.{quoted}")
            connection.execute(
                f"INSERT INTO main.{quoted} ({columns}) SELECT {columns} FROM pristine.{quoted}"
            )
        connection.execute("COMMIT")
        connection.execute("DETACH DATABASE pristine")
    finally:
        connection.close()


def empty_folder(folder: Path) -> None:
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def target_answers() -> bool:
    try:
        return requests.get(f"{target_url()}/health", timeout=10).ok
    except requests.RequestException:
        return False


def reset_target() -> None:
    """The target as it was when it first answered: no experiment but the default one, no model,
    no artifact. A target that stopped answering skips the test, for the runner to run it again on
    a new server."""
    if not target_answers():
        pytest.skip(TARGET_DOWN)
    restore_sqlite(Path(os.environ["UPSTREAM_DATABASE"]), Path(os.environ["UPSTREAM_PRISTINE_DATABASE"]))
    for folder in filter(None, os.environ.get("UPSTREAM_EMPTIED_FOLDERS", "").split(os.pathsep)):
        empty_folder(Path(folder))


# --- The fixtures that replace MLflow's ------------------------------------------------------------


@pytest.fixture(name="store_type", params=["sqlalchemy"])
def target_store_type(request) -> str:
    return request.param


def use_target_as_local_store() -> None:
    """MLflow's `mlflow_client` and `client` serve the very SQLite file its conftest makes the
    test's own tracking URI (`db_uri`), so what a test does without naming a server (the CLI, the
    fluent API) lands on the server too. The target is that store here. (conftest's autouse
    `tracking_uri_mock` puts its URI back after the test.)"""
    mlflow.set_tracking_uri(target_url())


@pytest.fixture(name="mlflow_client")
def target_mlflow_client(store_type, monkeypatch):
    monkeypatch.setenv("MLFLOW_CRYPTO_KEK_PASSPHRASE", PASSPHRASE)
    reset_target()
    use_target_as_local_store()
    return mlflow.MlflowClient(target_url())


@pytest.fixture(name="mlflow_client_with_secrets")
def target_mlflow_client_with_secrets(monkeypatch):
    monkeypatch.setenv("MLFLOW_CRYPTO_KEK_PASSPHRASE", PASSPHRASE)
    reset_target()
    return mlflow.MlflowClient(target_url())


@pytest.fixture(name="client", params=["sqlalchemy"])
def target_registry_client(request):
    reset_target()
    use_target_as_local_store()
    return mlflow.MlflowClient(target_url())


class TargetArtifactsServer(NamedTuple):
    """The fields of test_mlflow_artifacts.py's ArtifactsServer, for the target."""

    backend_store_uri: str
    default_artifact_root: str
    artifacts_destination: str
    url: str
    process: None


@pytest.fixture(name="artifacts_server")
def target_artifacts_server():
    reset_target()
    url = target_url()
    return TargetArtifactsServer(
        backend_store_uri=f"sqlite:///{os.environ['UPSTREAM_DATABASE']}",
        default_artifact_root=f"{url}/api/2.0/mlflow-artifacts/artifacts",
        artifacts_destination=os.environ.get("UPSTREAM_ARTIFACTS_DESTINATION", ""),
        url=url,
        process=None,
    )


REPLACEMENTS = {
    "store_type": target_store_type,
    "mlflow_client": target_mlflow_client,
    "mlflow_client_with_secrets": target_mlflow_client_with_secrets,
    "client": target_registry_client,
    "artifacts_server": target_artifacts_server,
}


def pytest_collectstart(collector):
    """Swaps the module's server fixtures for the target's before pytest reads its fixtures."""
    if not isinstance(collector, pytest.Module) or not target():
        return
    try:
        module = collector.obj
    except Exception:  # pytest reports the import error when it collects the module
        return
    for name, replacement in REPLACEMENTS.items():
        if name in vars(module):
            setattr(module, name, replacement)


# --- What applies to which target -------------------------------------------------------------------


def server_side_reason(function) -> str | None:
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return None
    for marker, reason in SERVER_SIDE_MARKERS.items():
        if marker in source:
            return reason
    return None


def pytest_collection_modifyitems(config, items):
    if not target():
        return
    # The tests an earlier run on a server that then stopped has an outcome for.
    done_file = os.environ.get("UPSTREAM_DONE_FILE")
    done = set(Path(done_file).read_text().splitlines()) if done_file else set()
    if done:
        config.hook.pytest_deselected(items=[item for item in items if item.nodeid in done])
        items[:] = [item for item in items if item.nodeid not in done]
    for item in items:
        if not any(name in item.fixturenames for name in LIVE_SERVER_FIXTURES):
            item.add_marker(
                pytest.mark.skip(
                    reason=f"{NOT_APPLICABLE}: uses no live-server fixture (starts its own server or "
                    "calls MLflow's handlers and stores in-process), so never reaches the target"
                )
            )
            continue
        reason = server_side_reason(getattr(item, "function", None))
        if reason and target() == "ours":
            item.add_marker(pytest.mark.skip(reason=f"{NOT_APPLICABLE}: {reason}"))


# --- Async tests and a per-test time limit, without their plugins -----------------------------------


def pytest_configure(config):
    config.addinivalue_line("markers", "asyncio: an async test, run to completion in a new event loop")
    if not config.pluginmanager.hasplugin("timeout"):
        config.pluginmanager.register(TimeLimit(float(os.environ.get("UPSTREAM_TEST_TIMEOUT", "120"))))


def pytest_addoption(parser):
    # MLflow's pytest configuration sets pytest-timeout's `timeout`; accept it when that plugin is
    # absent (the limit then comes from UPSTREAM_TEST_TIMEOUT).
    with contextlib.suppress(ValueError):
        parser.addini("timeout", "pytest-timeout's limit (unused without it)", default="0")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if pyfuncitem.config.pluginmanager.hasplugin("asyncio"):
        return None
    function = pyfuncitem.obj
    if not inspect.iscoroutinefunction(function):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(function(**arguments))
    return True


class TimeLimitExceeded(Exception):
    pass


class TimeLimit:
    """Fails a test whose setup, call or teardown runs longer than `seconds` (SIGALRM, as
    pytest-timeout's signal method does)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def _alarm(self, signum, frame):
        raise TimeLimitExceeded(f"timed out after {self.seconds:g} s")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        previous = signal.signal(signal.SIGALRM, self._alarm)
        try:
            return (yield)
        finally:
            signal.signal(signal.SIGALRM, previous)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item):
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        try:
            return (yield)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        try:
            return (yield)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item, nextitem):
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        try:
            return (yield)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
