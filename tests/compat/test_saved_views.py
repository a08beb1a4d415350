"""Saved views are experiment tags in MLflow's format: the real client sees a view saved in the
studio, and a view set through the client in MLflow's format is listed and opens in the studio."""

from __future__ import annotations

import json

import requests

from tests.tracking.queries.test_saved_views import MLFLOW_STATE, mlflow_envelope
from tracking.models import Experiment
from tracking.queries.saved_views import DEFAULT_VIEW_TAG, VIEW_TAG_PREFIX, ViewState, saved_views
from tracking.services.saved_views import save_view, set_default_view


def test_a_view_saved_in_the_studio_is_an_experiment_tag_mlflow_reads(client):
    experiment_id = client.create_experiment("views", tags={"team": "vision"})
    experiment = Experiment.objects.get(number=int(experiment_id))
    view = save_view(
        experiment=experiment,
        name="By accuracy",
        state=ViewState(columns=("params.lr", "metrics.acc"), sort="-metrics.acc", group="params.lr"),
    )
    set_default_view(experiment=experiment, view_id=view.id)

    tags = client.get_experiment(experiment_id).tags
    assert tags[DEFAULT_VIEW_TAG] == view.id
    envelope = json.loads(tags[f"{VIEW_TAG_PREFIX}{view.id}"])
    assert envelope["name"] == "By accuracy"
    state = json.loads(envelope["state"])
    assert state["orderByKey"] == "metrics.`acc`" and state["orderByAsc"] is False
    assert state["selectedColumns"][-2:] == ["params.`lr`", "metrics.`acc`"]
    assert state["groupBy"]["groupByKeys"] == [{"mode": "param", "groupByData": "lr"}]
    assert tags["team"] == "vision"


def test_a_view_set_through_mlflow_in_its_format_is_listed_and_opens_in_the_studio(client, tracking_uri):
    experiment_id = client.create_experiment("from-mlflow")
    for name, lr, acc in (("a", "0.1", 0.9), ("b", "0.01", 0.2)):
        run = client.create_run(experiment_id, run_name=name)
        client.log_param(run.info.run_id, "lr", lr)
        client.log_metric(run.info.run_id, "acc", acc)
    state = {**MLFLOW_STATE, "groupBy": None, "searchFilter": "metrics.acc > 0.5"}
    client.set_experiment_tag(experiment_id, f"{VIEW_TAG_PREFIX}ui1", mlflow_envelope("Good runs", state))
    client.set_experiment_tag(experiment_id, f"{VIEW_TAG_PREFIX}junk", "written by some other tool")

    experiment = Experiment.objects.get(number=int(experiment_id))
    assert [(view.id, view.name) for view in saved_views(experiment).views] == [("ui1", "Good runs")]

    page = requests.get(f"{tracking_uri}/ws/default/experiments/{experiment_id}/?view=ui1", timeout=30)
    assert page.status_code == 200
    html = page.text
    assert ">Good runs</a>" in html and 'data-column="metrics.val loss"' in html
    assert ">a</a>" in html and ">b</a>" not in html

    client.delete_experiment_tag(experiment_id, f"{VIEW_TAG_PREFIX}ui1")
    assert saved_views(experiment).views == []
