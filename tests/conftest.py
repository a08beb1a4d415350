"""Fixtures every test can use: the default tenancy, extra workspaces, and settings for the client."""

from __future__ import annotations

import os

import pytest

# Personas (owner, contributor, reader, outsider) and `auth_on`, for access tests anywhere.
pytest_plugins = ["tests.personas"]


def _sandbox_reachable_base():
    """Where jobs' folders and environments go in tests: the data folder, unless a root worker's
    sandbox user (STUDIO_JOB_UID) cannot enter it (a checkout under /root, say); then a folder of
    this data folder's own under the system's temporary folder, which every user may enter.
    Worker processes started by the tests inherit the choice through the environment."""
    import hashlib
    import tempfile
    from pathlib import Path

    from django.conf import settings

    from studio.checks import reachable_by

    data_dir = Path(settings.DATA_DIR)
    if os.geteuid() != 0 or reachable_by(data_dir.parent, settings.JOB_UID, settings.JOB_GID):
        return data_dir
    base = (
        Path(tempfile.gettempdir())
        / f"studio-tests-{hashlib.sha256(str(data_dir).encode()).hexdigest()[:10]}"
    )
    base.mkdir(mode=0o711, exist_ok=True)
    for name, setting in (("STUDIO_JOBS_DIR", "JOBS_DIR"), ("STUDIO_ENVIRONMENTS_DIR", "ENVIRONMENTS_DIR")):
        folder = base / setting.lower()
        os.environ[name] = str(folder)
        setattr(settings, setting, folder)
    return base


SANDBOX_REACHABLE_BASE = _sandbox_reachable_base()

# The MLflow client retries 5xx answers with back-off; a test should see the error at once.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")


def ensure_default_workspace():
    """What migration 0002 creates; transactional tests flush it away between tests."""
    from django.utils import timezone

    from tracking.models import Experiment, ResourceGroup, Workspace

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
