"""Fixtures every test can use: the default tenancy, extra workspaces, and settings for the client."""

from __future__ import annotations

import os

import pytest

# Personas (owner, contributor, reader, outsider) and `auth_on`, for access tests anywhere; the
# server as it ships (`manage.py serve`) for the suites that drive it; the artifact store of the
# run (STUDIO_TEST_ARTIFACT_STORE: local, s3 or azure).
pytest_plugins = ["tests.personas", "tests.deployed", "tests.object_stores", "tests.azurite_service"]

# MLflow's own live-server tests, run side by side against us and `mlflow server` by
# `python -m tests.upstream` (they need MLflow's test sources): never part of `make test`.
collect_ignore = ["upstream"]


def _sandbox_reachable_base():
    """Where jobs' folders go (the data folder, or a folder the settings chose that the sandbox's
    unprivileged user can enter): test folders that jobs must see go there too."""
    from pathlib import Path

    from django.conf import settings

    return Path(settings.JOBS_DIR).parent


SANDBOX_REACHABLE_BASE = _sandbox_reachable_base()


def _a_file_cache_per_xdist_worker() -> None:
    """Workers share the data folder; its file cache would not be theirs alone: one worker's
    session start clears it under another's test, and keys hold ids every worker's database
    reuses. (Settings are loaded by now; the cache is not opened until a test uses it.)"""
    from django.conf import settings

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    cache = settings.CACHES["default"]
    if worker and cache["BACKEND"].endswith("FileBasedCache"):
        cache["LOCATION"] = f"{cache['LOCATION']}-{worker}"


_a_file_cache_per_xdist_worker()

# The MLflow client retries 5xx answers with back-off; a test should see the error at once.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")


@pytest.fixture(scope="session", autouse=True)
def flush_outlasts_background_work():
    """Transactional tests end with a flush (TRUNCATE of every table), while the deployed servers'
    workers may still be finishing something (a job a test left queued, a periodic sweep): on
    PostgreSQL the TRUNCATE and the worker's row locks can deadlock, and PostgreSQL then aborts
    the TRUNCATE. It is tried again, as the worker's side has moved on by then."""
    import time

    from django.core.management.base import CommandError
    from django.core.management.commands import flush
    from django.db import OperationalError

    original = flush.Command.handle

    def handle(self, *args, **options):
        for attempt in range(5):
            try:
                return original(self, *args, **options)
            except CommandError as error:
                cause = error.__cause__
                if attempt == 4 or not (isinstance(cause, OperationalError) and "deadlock" in str(cause)):
                    raise
                time.sleep(0.2 * (attempt + 1))

    flush.Command.handle = handle
    yield
    flush.Command.handle = original


@pytest.fixture(scope="session", autouse=True)
def flush_by_delete_on_postgresql():
    """PostgreSQL empties the database after each transactional test with DELETE, not TRUNCATE.

    A TRUNCATE of all 69 tables gives each a new file: 240-410 ms, after every transactional test
    (the PostgreSQL pass took 17:48 with it, 15:30 without); deleting the few rows a test leaves
    takes 10-20 ms. The foreign keys Django makes are deferred to the commit, so the order does not
    matter. A test that asks for its sequences reset keeps Django's TRUNCATE ... RESTART IDENTITY."""
    from django.core.management.commands import flush

    original = flush.sql_flush

    def sql_flush(style, connection, reset_sequences=True, allow_cascade=False):
        if connection.vendor != "postgresql" or reset_sequences:
            return original(style, connection, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
        quote = connection.ops.quote_name
        return ["SET CONSTRAINTS ALL DEFERRED", *(f"DELETE FROM {quote(table)}" for table in sorted(tables))]

    flush.sql_flush = sql_flush
    yield
    flush.sql_flush = original


def ensure_default_workspace():
    """What migrations 0002 and 0009 create; transactional tests flush it away between tests."""
    from django.utils import timezone

    from tracking.models import ComputeTarget, Experiment, ResourceGroup, Workspace

    ComputeTarget.objects.get_or_create(name="default")
    group, _ = ResourceGroup.objects.get_or_create(name="default")
    workspace, _ = Workspace.objects.get_or_create(name="default", defaults={"resource_group": group})
    now = timezone.now()
    Experiment.objects.get_or_create(
        workspace=workspace,
        number=0,
        defaults={
            "name": "Default",
            "artifact_location": "mlflow-artifacts:/0",
            "created_at": now,
            "updated_at": now,
        },
    )
    return workspace


@pytest.fixture
def default_workspace(db):
    return ensure_default_workspace()


@pytest.fixture
def make_workspace(db):
    from tracking.models import ResourceGroup
    from tracking.services.workspaces import create_workspace

    def make(name: str, group: str = "default"):
        resource_group, _ = ResourceGroup.objects.get_or_create(name=group)
        return create_workspace(resource_group=resource_group, name=name)

    return make


@pytest.fixture(scope="session", autouse=True)
def empty_cache():
    """The cache is files under the data folder, shared between processes and kept between runs;
    a test database starts afresh, so must the cache (ids are reused from one run to the next)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def fresh_process_caches():
    """Test databases reuse ids, so nothing a process caches may outlive a test: an experiment's
    trace charts, and the workspaces looked up (with the related rows an earlier test loaded on
    them, which would spare a later test a query it makes when it runs alone)."""
    from tracking import workspaces
    from tracking.queries.trace_metrics import forget_overviews

    forget_overviews()
    workspaces._cache.clear()


@pytest.fixture
def group(default_workspace):
    """Resource group "project-x" with workspace "x-dev": 3 runs of 4 points and a file each."""
    import io

    from tracking.models import ResourceGroup
    from tracking.services.artifacts import proxy_path, save_artifact
    from tracking.services.experiments import create_experiment
    from tracking.services.metric_points import MetricPoint
    from tracking.services.runs import Batch, create_run, log_batch
    from tracking.services.workspaces import create_workspace

    group = ResourceGroup.objects.create(name="project-x")
    workspace = create_workspace(resource_group=group, name="x-dev")
    experiment = create_experiment(workspace=workspace, name="churn")
    for _ in range(3):
        run = create_run(experiment=experiment)
        log_batch(run=run, batch=Batch(metrics=[MetricPoint("loss", i / 10, 1, i) for i in range(4)]))
        save_artifact(
            workspace=workspace, path=f"{proxy_path(run.artifact_uri)}/a.txt", stream=io.BytesIO(b"x" * 10)
        )
    return group


@pytest.fixture
def sandbox_reachable_folder():
    """A folder of this test that a job's sandbox, running as an unprivileged user, can reach (under
    the data folder; pytest's tmp_path is under a folder only root may enter); removed afterwards."""
    import shutil
    import uuid

    folder = SANDBOX_REACHABLE_BASE / "test-folders" / uuid.uuid4().hex[:12]
    folder.mkdir(parents=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def default_environment():
    """The default environment (just mlflow-skinny) of the workspace 'default', built once, as a worker
    would, into STUDIO_ENVIRONMENTS_DIR (under the test data folder, so shared by every test and
    every worker process of the session, and by later sessions until `make test` empties it). Jobs of
    that workspace then start without building anything and their output is their own."""
    from pathlib import Path

    from django.conf import settings

    from tracking.jobs import environment_folders as folders
    from tracking.jobs.environments import build_folder, choose_python
    from tracking.jobs.runner import Output
    from tracking.jobs.specs import default_spec

    spec = default_spec()
    folder = folders.environment_folder("default", spec.hash)
    fd = folders.open_lock(folder)
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)
        if not folders.is_whole(folder):
            output = Output(Path(settings.DATA_DIR) / "test-default-environment.log", 10**7)
            interpreter = choose_python(spec, outer_user_differs=os.geteuid() == 0)
            build_folder(spec, interpreter, folder, output=output, beat=lambda: None)
            output.close()
    finally:
        os.close(fd)
    return folder
