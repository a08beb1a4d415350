"""The links the MLflow client prints ("View run ... at: http://host/#/experiments/1/runs/<id>"), and
every other MLflow UI link shape, open our page for them, in the workspace the link names."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run


@pytest.fixture
def team(deployed, make_workspace, default_workspace):
    """A run in workspace team-a whose experiment has the same number as one in default."""
    workspace = make_workspace("team-a")
    experiment = create_experiment(workspace=workspace, name="team-a-experiment")
    create_experiment(workspace=default_workspace, name="default-experiment")
    run = create_run(experiment=experiment, run_name="team-a-run")
    return deployed.url, experiment, run


def test_the_links_the_mlflow_client_prints_open_that_run_in_its_workspace(
    page, deployed, make_workspace, capsys
):
    import mlflow

    make_workspace("team-a")
    mlflow.set_tracking_uri(deployed.url)
    mlflow.set_workspace("team-a")
    try:
        experiment_id = mlflow.create_experiment("printed-links")
        with mlflow.start_run(experiment_id=experiment_id, run_name="printed") as run:
            mlflow.log_metric("loss", 0.5)
    finally:
        mlflow.set_workspace(None)
    printed = capsys.readouterr().out
    run_link = re.search(r"View run printed at: (\S+)", printed)[1]
    experiment_link = re.search(r"View experiment at: (\S+)", printed)[1]
    assert run_link.endswith(f"/#/experiments/{experiment_id}/runs/{run.info.run_id}?workspace=team-a")

    page.goto(run_link)
    expect(page).to_have_url(f"{deployed.url}/ws/team-a/runs/{run.info.run_id}/")
    expect(page.get_by_role("heading", name="printed")).to_be_visible()

    page.goto(experiment_link)
    expect(page).to_have_url(f"{deployed.url}/ws/team-a/experiments/{experiment_id}/")
    expect(page.get_by_role("heading", name="printed-links")).to_be_visible()


@pytest.mark.parametrize(
    ("link", "lands_on"),
    [
        ("/#/experiments/{exp}?workspace=team-a", "/ws/team-a/experiments/{exp}/"),
        ("/#/experiments/{exp}/overview?workspace=team-a", "/ws/team-a/experiments/{exp}/"),
        ("/#/experiments/{exp}/runs/{run}/artifacts?workspace=team-a", "/ws/team-a/runs/{run}/"),
        ("/ws/team-a/#/experiments/{exp}/runs/{run}", "/ws/team-a/runs/{run}/"),
        ("/#/experiments/{exp}", "/ws/default/experiments/{exp}/"),
        ("/#/models/my%20model/versions/3?workspace=team-a", "/ws/team-a/models/my%20model/versions/3/"),
        ("/#/models/my-model?workspace=team-a", "/ws/team-a/models/my-model/"),
        ("/#/models?workspace=team-a", "/ws/team-a/models/"),
        (
            '/#/compare-runs?runs=["{run}","{run2}","x"]&experiments=["{exp}"]&workspace=team-a',
            "/ws/team-a/compare/?runs={run},{run2}",
        ),
    ],
)
def test_every_mlflow_ui_link_shape_lands_on_our_page_for_it(page, team, link, lands_on):
    url, experiment, run = team
    values = {"exp": experiment.experiment_id, "run": run.uuid, "run2": "ab" * 16}

    page.goto(url + link.format(**values))

    expect(page).to_have_url(url + lands_on.format(**values))


@pytest.mark.parametrize(
    "link",
    [
        "/#/experiments/1?workspace=..%2F..%2Flogout",
        "/#/experiments/1?workspace=team-a%2F..%2F..",
        "/#/experiments/1?workspace=https:%2F%2Fevil.example",
        "/#/models/%E0%A4%A?workspace=team-a",
        "/#/somewhere-else",
    ],
)
def test_a_link_it_cannot_read_stays_where_it_is(page, team, link):
    url, _, _ = team

    page.goto(url + link)
    page.wait_for_load_state("load")

    assert page.url.startswith(url + "/")
    assert "evil" not in page.url.split("#")[0] and "logout" not in page.url.split("#")[0]
