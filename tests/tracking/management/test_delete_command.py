"""`manage.py delete`: the dry run on the command line, the typed confirmation, and a deletion
followed to its end (done here with --in-process; the worker path is the studio's browser test)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from tracking.models import Deletion, Experiment, ResourceGroup, Run
from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint
from tracking.services.runs import Batch, create_run, log_batch
from tracking.services.workspaces import create_workspace


@pytest.fixture(autouse=True)
def artifacts_in_tmp(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"


@pytest.fixture
def group(default_workspace):
    group = ResourceGroup.objects.create(name="team-a")
    experiment = create_experiment(
        workspace=create_workspace(resource_group=group, name="team-a-dev"), name="e"
    )
    for _ in range(2):
        log_batch(run=create_run(experiment=experiment), batch=Batch(metrics=[MetricPoint("m", 1.0, 1, 0)]))
    return group


def delete(*args: str) -> str:
    out = io.StringIO()
    call_command("delete", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_a_dry_run_prints_the_plan_and_deletes_nothing(group):
    out = delete("resource-group", "team-a", "--dry-run")
    assert "Deleting the resource-group team-a removes, for good:" in out
    assert "runs" in out and "metric points" in out
    assert ResourceGroup.objects.filter(name="team-a").exists() and not Deletion.objects.exists()


def test_it_asks_for_the_name_and_refuses_a_wrong_one(group, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "team-b")
    with pytest.raises(CommandError, match="Type the name 'team-a' exactly"):
        delete("resource-group", "team-a", "--in-process")
    assert ResourceGroup.objects.filter(name="team-a").exists()


def test_it_deletes_and_reports_what_went(group, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "team-a")
    out = delete("resource-group", "team-a", "--in-process")
    assert "Deletion 1" in out or "SUCCEEDED" in out
    assert "SUCCEEDED" in out
    assert not ResourceGroup.objects.filter(name="team-a").exists()
    assert Deletion.objects.get().status == "SUCCEEDED"


def test_an_experiment_is_named_by_name_or_id_within_a_workspace(default_workspace):
    experiment = create_experiment(workspace=default_workspace, name="old-trials")
    create_run(experiment=experiment)
    delete("experiment", str(experiment.number), "--yes", "--in-process")
    assert not Experiment.objects.filter(pk=experiment.pk).exists()
    assert not Run.objects.filter(experiment_id=experiment.pk).exists()


def test_no_wait_only_queues(group):
    out = delete("resource-group", "team-a", "--yes", "--no-wait")
    assert "queued" in out and Deletion.objects.get().status == "QUEUED"


def test_unknown_and_refused_targets_are_errors(default_workspace):
    with pytest.raises(CommandError, match="Resource group 'nope' does not exist"):
        delete("resource-group", "nope", "--yes")
    with pytest.raises(CommandError, match="Workspace 'nope' does not exist"):
        delete("workspace", "nope", "--yes")
    with pytest.raises(CommandError, match="default workspace"):
        delete("workspace", "default", "--yes")
    with pytest.raises(CommandError, match="No run 'abc' in workspace 'default'"):
        delete("run", "abc", "--yes")
