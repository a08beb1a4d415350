"""The saved-view endpoints: list an experiment's views, save one (a taken name needs overwrite),
delete one, choose the default; Readers list, Contributors change, outsiders see nothing."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.tracking.queries.test_saved_views import MLFLOW_STATE, mlflow_envelope
from tracking.models import ExperimentTag
from tracking.queries.saved_views import VIEW_TAG_PREFIX, ViewState, saved_views
from tracking.services.experiments import create_experiment, set_experiment_tag
from tracking.services.saved_views import save_view

URL = "/api/studio/v1/workspaces/{}/experiments/{}/"


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="mnist")


def url(experiment, tail: str) -> str:
    return URL.format(experiment.workspace.name, experiment.experiment_id) + tail


def send(client, method: str, path: str, body=None):
    return client.generic(method, path, json.dumps(body or {}), content_type="application/json")


def test_it_saves_lists_makes_default_and_deletes_a_view(client, experiment):
    body = {
        "name": "Best",
        "columns": ["params.lr", "max(metrics.acc)"],
        "sort": "-metrics.acc",
        "group": "params.lr",
    }
    response = send(client, "POST", url(experiment, "views"), body)
    assert response.status_code == 201, response.content
    view = response.json()
    assert response["Location"] == f"{url(experiment, 'views')}/{view['id']}"
    assert view["name"] == "Best" and view["default"] is False
    assert (view["columns"], view["sort"], view["filter"], view["group"]) == (
        ["params.lr", "max(metrics.acc)"],
        "-metrics.acc",
        "",
        "params.lr",
    )
    assert view["url"] == f"/ws/default/experiments/{experiment.experiment_id}/?view={view['id']}"

    assert send(client, "PUT", url(experiment, "default-view"), {"view_id": view["id"]}).status_code == 200
    listing = client.get(url(experiment, "views")).json()
    assert listing["default_id"] == view["id"] and listing["views"][0]["default"] is True

    assert send(client, "DELETE", url(experiment, f"views/{view['id']}")).status_code == 204
    assert client.get(url(experiment, "views")).json() == {"views": [], "default_id": None}


def test_it_lists_a_view_mlflows_ui_saved_and_skips_a_malformed_one(client, experiment):
    set_experiment_tag(
        experiment=experiment, key=f"{VIEW_TAG_PREFIX}ui", value=mlflow_envelope("UI", MLFLOW_STATE)
    )
    set_experiment_tag(experiment=experiment, key=f"{VIEW_TAG_PREFIX}bad", value="{")
    (view,) = client.get(url(experiment, "views")).json()["views"]
    assert (view["id"], view["name"], view["sort"], view["group"]) == (
        "ui",
        "UI",
        "-metrics.acc",
        "params.optimizer",
    )
    assert view["columns"] == ["params.lr", "metrics.acc", "metrics.val loss"]


def test_a_taken_name_needs_overwrite(client, experiment):
    first = send(client, "POST", url(experiment, "views"), {"name": "v", "filter": "a = 1"}).json()
    refused = send(client, "POST", url(experiment, "views"), {"name": "V", "filter": "b = 2"})
    assert refused.status_code == 400 and refused.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    replaced = send(
        client, "POST", url(experiment, "views"), {"name": "V", "filter": "b = 2", "overwrite": True}
    )
    assert replaced.status_code == 201 and replaced.json()["id"] == first["id"]
    assert replaced.json()["filter"] == "b = 2"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "name"),
        ({"name": " "}, "needs a name"),
        ({"name": "v", "columns": ["attributes.status"]}, "Unknown column"),
        ({"name": "v", "columns": "params.lr"}, "columns"),
        ({"name": "v", "group": "metrics.acc"}, "Unknown grouping"),
        ({"name": "v", "sort": "nope"}, "Unknown sort"),
        ({"name": "x" * 101}, "100"),
    ],
)
def test_it_refuses_a_bad_view_with_a_clear_message(client, experiment, body, message):
    response = send(client, "POST", url(experiment, "views"), body)
    assert response.status_code == 400 and message in response.json()["message"]
    assert not ExperimentTag.objects.filter(experiment=experiment).exists()


def test_unknown_experiments_and_views_are_404(client, experiment):
    assert client.get(URL.format("default", "99") + "views").status_code == 404
    assert send(client, "DELETE", url(experiment, "views/nope")).status_code == 404
    assert send(client, "PUT", url(experiment, "default-view"), {"view_id": "nope"}).status_code == 404
    assert send(client, "PUT", url(experiment, "default-view"), {"view_id": None}).status_code == 200


def test_another_sites_page_cannot_save_a_view(experiment):
    browser = Client()
    response = browser.post(url(experiment, "views"), {"name": "v"})  # a form, as a page elsewhere could send
    assert response.status_code == 400
    response = browser.generic(
        "POST",
        url(experiment, "views"),
        '{"name": "v"}',
        content_type="application/json",
        HTTP_ORIGIN="https://evil.example",
    )
    assert response.status_code == 403
    assert not saved_views(experiment).views


@pytest.mark.parametrize(
    ("persona", "read", "write"),
    [("owner", 200, 201), ("contributor", 200, 201), ("reader", 200, 403), ("outsider", 404, 404)],
)
def test_readers_list_contributors_change_outsiders_see_nothing(auth_on, team, persona, read, write):
    experiment = create_experiment(workspace=team.workspace, name="shared")
    view = save_view(experiment=experiment, name="Team", state=ViewState())
    client = Client()
    client.force_login(team.user(persona))
    assert client.get(url(experiment, "views")).status_code == read
    assert send(client, "POST", url(experiment, "views"), {"name": "mine"}).status_code == write
    changed = 204 if write == 201 else write
    assert send(client, "PUT", url(experiment, "default-view"), {"view_id": view.id}).status_code == (
        200 if write == 201 else write
    )
    assert send(client, "DELETE", url(experiment, f"views/{view.id}")).status_code == changed
    names = [v.name for v in saved_views(experiment).views]
    assert names == (["mine"] if write == 201 else ["Team"])


def test_listing_many_views_costs_a_fixed_number_of_queries(
    client, experiment, django_assert_max_num_queries
):
    for i in range(15):
        save_view(experiment=experiment, name=f"v{i}", state=ViewState(columns=("params.lr",)))
    # workspace (+ resource group), experiment, its view tags
    with django_assert_max_num_queries(4):
        assert len(client.get(url(experiment, "views")).json()["views"]) == 15
