"""Fixtures every test can use: the default tenancy, extra workspaces, and settings for the client."""

from __future__ import annotations

import os

import pytest

# Personas (owner, contributor, reader, outsider) and `auth_on`, for access tests anywhere; the
# server as it ships (`manage.py serve`) for the suites that drive it.
pytest_plugins = ["tests.personas", "tests.deployed"]

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
