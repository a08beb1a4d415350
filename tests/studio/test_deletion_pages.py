"""Deleting from the studio: every deletion shows its dry run, asks for the name to be typed
back, needs a POST with a CSRF token, and then shows its progress; some targets are refused."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tracking.models import Deletion, Metric, MetricSummary, ResourceGroup, Run
from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint
from tracking.services.runs import Batch, create_run, log_batch
from tracking.services.workspaces import create_workspace


@pytest.fixture(autouse=True)
def artifacts_in_tmp(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"


@pytest.fixture
def run(default_workspace):
    experiment = create_experiment(workspace=default_workspace, name="<b>exp</b>")
    run = create_run(experiment=experiment, run_name="r1")
    log_batch(
        run=run,
        batch=Batch(metrics=[MetricPoint(key, 1.0, 1, i) for key in ("loss", "acc") for i in range(5)]),
    )
    return run


def test_the_confirmation_page_shows_the_dry_run_and_asks_for_the_name(client, group):
    response = client.get("/resource-groups/project-x/delete/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Delete the resource group “project-x”?" in html
    assert 'data-confirm-name="project-x"' in html and "csrfmiddlewaretoken" in html
    rows = dict(
        (key, html.split(f'data-key="{key}"')[1].split('class="num">')[1].split("<")[0])
        for key in ("workspaces", "runs", "metric_points")
    )
    assert rows == {"workspaces": "1", "runs": "3", "metric_points": "12"}
    assert "30\xa0bytes" in html  # the artifacts' size, as the dry run measured it


def test_a_get_never_deletes(client, group):
    client.get("/resource-groups/project-x/delete/?confirm=project-x")
    assert not Deletion.objects.exists()


def test_a_wrong_name_is_refused_inline_and_nothing_is_queued(client, group):
    response = client.post("/resource-groups/project-x/delete/", {"confirm": "project"})
    assert response.status_code == 400
    assert "Type the name &#x27;project-x&#x27; exactly" in response.content.decode()
    assert not Deletion.objects.exists()


def test_the_right_name_queues_the_deletion_and_leads_to_its_progress(client, group):
    response = client.post("/resource-groups/project-x/delete/", {"confirm": "project-x"})
    row = Deletion.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/deletions/{row.pk}/"
    assert (row.kind, row.target_name, row.status) == ("resource_group", "project-x", "QUEUED")
    assert row.plan["runs"] == 3

    page = client.get(f"/deletions/{row.pk}/").content.decode()
    assert "Deleting the resource group “project-x”" in page and "queued" in page
    progress = json.loads(client.get(f"/deletions/{row.pk}/progress").content)
    assert progress["status"] == "QUEUED" and not progress["finished"]
    assert {item["key"]: item["planned"] for item in progress["rows"]}["runs"] == 3
    # The start page shows the group as being deleted, with a link to the progress.
    assert f'href="/deletions/{row.pk}/">being deleted' in client.get("/").content.decode()


def test_the_form_needs_its_csrf_token(group):
    client = Client(enforce_csrf_checks=True)
    assert client.post("/resource-groups/project-x/delete/", {"confirm": "project-x"}).status_code == 403
    assert not Deletion.objects.exists()


def test_the_default_workspace_is_not_offered_for_deletion(client, default_workspace):
    html = client.get("/ws/default/delete/").content.decode()
    assert "is kept" in html and 'name="confirm"' not in html
    assert client.post("/ws/default/delete/", {"confirm": "default"}).status_code == 400
    assert not Deletion.objects.exists()


def test_unknown_targets_are_404(client, default_workspace):
    assert client.get("/resource-groups/nope/delete/").status_code == 404
    assert client.get("/ws/nope/delete/").status_code == 404
    assert client.get("/ws/default/experiments/999/delete/").status_code == 404
    assert client.get("/ws/default/runs/0123456789abcdef0123456789abcdef/delete/").status_code == 404
    assert client.get("/deletions/999/").status_code == 404


def test_a_run_is_deleted_from_its_page_and_leaves_the_lists_at_once(client, run):
    overview = client.get(f"/ws/default/runs/{run.uuid}/").content.decode()
    assert f'href="/ws/default/runs/{run.uuid}/delete/"' in overview
    response = client.post(f"/ws/default/runs/{run.uuid}/delete/", {"confirm": run.uuid})
    assert response.status_code == 302
    assert Run.objects.get(pk=run.pk).lifecycle_stage == "deleted"


def test_an_experiments_name_is_shown_as_text(client, run):
    html = client.get(f"/ws/default/experiments/{run.experiment.number}/delete/").content.decode()
    assert "&lt;b&gt;exp&lt;/b&gt;" in html and "<b>exp</b>" not in html


def test_a_metric_is_deleted_after_its_key_is_typed(client, run):
    url = f"/ws/default/runs/{run.uuid}/metrics/delete/"
    metrics_tab = client.get(f"/ws/default/runs/{run.uuid}/metrics/").content.decode()
    assert f'href="{url}?key=loss"' in metrics_tab
    assert "5" in client.get(url, {"key": "loss"}).content.decode()
    assert client.post(url, {"key": "loss", "confirm": "los"}).status_code == 400
    assert Metric.objects.filter(run=run, key="loss").count() == 5

    response = client.post(url, {"key": "loss", "confirm": "loss"}, follow=True)
    assert "Deleted the metric loss (5 points)." in response.content.decode()
    assert not Metric.objects.filter(run=run, key="loss").exists()
    assert list(MetricSummary.objects.filter(run=run).values_list("key", flat=True)) == ["acc"]
    assert client.get(url, {"key": "loss"}).status_code == 404


def test_the_confirmation_page_costs_the_same_queries_for_3_or_30_runs(client, default_workspace):
    counts = []
    for name, runs in (("three", 3), ("thirty", 30)):
        group = ResourceGroup.objects.create(name=name)
        experiment = create_experiment(
            workspace=create_workspace(resource_group=group, name=f"{name}-ws"), name="e"
        )
        for _ in range(runs):
            log_batch(run=create_run(experiment=experiment), batch=Batch(params=[("lr", "1")]))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/resource-groups/{name}/delete/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- Who may delete --------------------------------------------------------------------------


@pytest.fixture
def team_run(team):
    experiment = create_experiment(workspace=team.workspace, name="shared")
    return {
        "contributor": create_run(experiment=experiment, user_id="contributor"),
        "owner": create_run(experiment=experiment, user_id="owner"),
    }


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("persona", "status"), [("owner", 200), ("contributor", 403), ("reader", 403), ("outsider", 404)]
)
def test_only_owners_may_delete_a_workspace_or_an_experiment(auth_on, team, team_run, persona, status):
    client = signed_in(team.user(persona))
    assert client.get("/ws/team-a/delete/").status_code == status
    assert client.get("/ws/team-a/experiments/1/delete/").status_code == status
    response = client.post("/ws/team-a/delete/", {"confirm": "team-a"})
    assert response.status_code == (302 if persona == "owner" else status)
    assert Deletion.objects.exists() == (persona == "owner")


@pytest.mark.parametrize(
    ("persona", "whose", "status"),
    [
        ("owner", "contributor", 200),
        ("contributor", "contributor", 200),
        ("contributor", "owner", 403),
        ("reader", "contributor", 403),
        ("outsider", "contributor", 404),
    ],
)
def test_contributors_may_delete_only_their_own_runs(auth_on, team, team_run, persona, whose, status):
    run = team_run[whose]
    client = signed_in(team.user(persona))
    assert client.get(f"/ws/team-a/runs/{run.uuid}/delete/").status_code == status
    assert client.post(f"/ws/team-a/runs/{run.uuid}/delete/", {"confirm": run.uuid}).status_code == (
        302 if status == 200 else status
    )


def test_a_resource_group_is_deleted_by_the_owner_of_all_its_workspaces(auth_on, team):
    group = ResourceGroup.objects.create(name="team-group")
    team.workspace.__class__.objects.filter(pk__in=[team.workspace.pk, team.other.pk]).update(
        resource_group=group
    )
    assert signed_in(team.owner).get("/resource-groups/team-group/delete/").status_code == 200
    # Owner of team-a but not a member of team-b: not enough.
    assert signed_in(team.contributor).get("/resource-groups/team-group/delete/").status_code == 403
    assert signed_in(team.outsider).get("/resource-groups/team-group/delete/").status_code == 404


def test_a_deletions_progress_is_not_shown_to_outsiders(auth_on, team):
    client = signed_in(team.owner)
    assert client.post("/ws/team-a/delete/", {"confirm": "team-a"}).status_code == 302
    row = Deletion.objects.get()
    assert row.requested_by == "owner"
    assert client.get(f"/deletions/{row.pk}/progress").status_code == 200
    assert signed_in(team.reader).get(f"/deletions/{row.pk}/progress").status_code == 200
    assert signed_in(team.outsider).get(f"/deletions/{row.pk}/progress").status_code == 404
