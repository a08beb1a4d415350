"""The start page: resource groups and their workspaces with counts (experiments, runs, models,
storage measured by a worker), the latest experiments and runs, and a fixed number of queries."""

from __future__ import annotations

import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.services.registered_models import create_registered_model
from tracking.models import ResourceGroup, Workspace
from tracking.services.artifacts import proxy_path, save_artifact
from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run, delete_run
from tracking.services.workspaces import create_workspace, measure_storage


@pytest.fixture(autouse=True)
def artifacts_in_tmp(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"


def workspace_row(html: str, name: str) -> str:
    return html.split(f'<a href="/ws/{name}/">{name}</a>')[1].split("</tr>")[0]


def numbers(row: str) -> list[str]:
    """The row's numeric cells: experiments, runs, models, storage."""
    return [
        value.strip() for value in re.findall(r'class="num"[^>]*>(?:<a [^>]*>|<span [^>]*>)?([^<]+)', row)
    ]


def test_each_workspace_shows_its_experiments_runs_and_models(client, default_workspace):
    workspace = create_workspace(
        resource_group=ResourceGroup.objects.create(name="vision"), name="vision-dev"
    )
    experiment = create_experiment(workspace=workspace, name="resnet")
    runs = [create_run(experiment=experiment) for _ in range(3)]
    delete_run(run=runs[0])
    create_registered_model(workspace=workspace, name="classifier")
    row = workspace_row(client.get("/").content.decode(), "vision-dev")
    # Active experiments (Default and resnet), active runs (one was deleted), registered models.
    assert numbers(row)[:3] == ["2", "2", "1"]


def test_storage_is_shown_once_a_worker_has_measured_it(client, default_workspace):
    experiment = create_experiment(workspace=default_workspace, name="e")
    run = create_run(experiment=experiment)
    save_artifact(
        workspace=default_workspace,
        path=f"{proxy_path(run.artifact_uri)}/a.bin",
        stream=io.BytesIO(b"x" * 2048),
    )
    assert 'title="not measured yet"' in workspace_row(client.get("/").content.decode(), "default")
    assert measure_storage() == 1
    assert Workspace.objects.get(pk=default_workspace.pk).storage_bytes == 2048
    assert "2.0\xa0KB" in workspace_row(client.get("/").content.decode(), "default")


def test_recent_experiments_and_runs_are_listed_and_escaped(client, default_workspace):
    experiment = create_experiment(workspace=default_workspace, name="<script>x</script>")
    create_run(experiment=experiment, run_name="latest <b>run</b>")
    html = client.get("/").content.decode()
    recent = html.split("Recent experiments")[1]
    assert "&lt;script&gt;x&lt;/script&gt;" in recent and "<script>x</script>" not in recent
    assert "latest &lt;b&gt;run&lt;/b&gt;" in html.split("Recent runs")[1]


def test_the_start_page_costs_the_same_queries_for_1_or_12_workspaces(client, default_workspace):
    group = ResourceGroup.objects.create(name="many")
    counts = []
    for total in (1, 12):
        while Workspace.objects.filter(resource_group=group).count() < total:
            workspace = create_workspace(resource_group=group, name=f"ws-{Workspace.objects.count()}")
            create_run(experiment=create_experiment(workspace=workspace, name="e"))
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
