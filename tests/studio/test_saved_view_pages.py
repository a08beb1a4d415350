"""Saved views on an experiment's page: the Views menu, `?view=<id>`, the default view, and the
forms that save, delete and choose the default (studio.views.saved_views)."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.studio.test_experiment_pages import experiment_url, make_run, run_names
from tests.tracking.queries.test_saved_views import MLFLOW_STATE, mlflow_envelope
from tracking.models import Experiment, ExperimentTag
from tracking.queries.saved_views import DEFAULT_VIEW_TAG, VIEW_TAG_PREFIX, ViewState, saved_views
from tracking.services.experiments import create_experiment, delete_experiment, set_experiment_tag
from tracking.services.saved_views import save_view, set_default_view


@pytest.fixture
def experiment(default_workspace):
    experiment = create_experiment(workspace=default_workspace, name="mnist")
    make_run(experiment, "slow", minute=0, acc=[0.2], lr="0.01")
    make_run(experiment, "fast", minute=1, acc=[0.9], lr="0.1")
    make_run(experiment, "mid", minute=2, acc=[0.5], lr="0.05")
    return experiment


def views_url(experiment, action: str) -> str:
    return experiment_url(experiment, f"views/{action}")


def headers_of(response) -> list[str]:
    return re.findall(r'<th class="key[^"]*" data-column="([^"]+)"', response.content.decode())


def test_the_menu_lists_the_views_and_offers_to_save_the_table_as_shown(client, experiment):
    save_view(experiment=experiment, name="Best", state=ViewState(columns=("metrics.acc",)))
    html = client.get(experiment_url(experiment, "?sort=-metrics.acc&col=params.lr")).content.decode()
    menu = html[html.index('id="views-menu"') :]
    assert '<a class="view-link" href="/ws/default/experiments/' in menu and ">Best</a>" in menu
    # The save form carries the table as it is now.
    form = menu[menu.index('class="save-view"') :]
    assert '<input type="hidden" name="col" value="params.lr">' in form
    assert '<input type="hidden" name="sort" value="-metrics.acc">' in form
    assert "csrfmiddlewaretoken" in form


def test_saving_from_the_page_keeps_the_shown_columns_and_opens_the_view(client, experiment):
    response = client.post(
        views_url(experiment, "save"),
        {
            "name": "By accuracy",
            "col": ["metrics.acc", "max(metrics.acc)"],
            "sort": "-metrics.acc",
            "filter": "",
            "group": "",
        },
    )
    view = saved_views(experiment).views[0]
    assert view.name == "By accuracy"
    assert view.state == ViewState(columns=("metrics.acc", "max(metrics.acc)"), sort="-metrics.acc")
    assert response.status_code == 302
    assert parse_qs(urlsplit(response["Location"]).query) == {"view": [view.id]}

    page = client.get(response["Location"])
    assert run_names(page) == ["fast", "mid", "slow"]
    assert headers_of(page) == ["metrics.acc", "max(metrics.acc)"]
    assert "Saved the view “By accuracy”" in page.content.decode()
    assert 'Views: <span class="view-name">By accuracy</span>' in page.content.decode()


def test_a_view_saved_by_mlflows_ui_opens_with_its_columns_sort_and_filter(client, experiment):
    state = {**MLFLOW_STATE, "groupBy": None, "searchFilter": "metrics.acc > 0.3", "orderByAsc": True}
    set_experiment_tag(
        experiment=experiment, key=f"{VIEW_TAG_PREFIX}fromui", value=mlflow_envelope("UI", state)
    )
    page = client.get(experiment_url(experiment, "?view=fromui"))
    assert run_names(page) == ["mid", "fast"]
    assert headers_of(page) == ["params.lr", "metrics.acc", "metrics.val loss"]
    assert 'value="metrics.acc &gt; 0.3"' in page.content.decode()


def test_a_view_with_a_grouping_opens_grouped(client, experiment):
    view = save_view(
        experiment=experiment, name="g", state=ViewState(columns=("metrics.acc",), group="params.lr")
    )
    html = client.get(experiment_url(experiment, f"?view={view.id}")).content.decode()
    assert 'id="groups"' in html and "3 runs in 3 groups" in html


def test_the_urls_own_parameters_win_over_the_views(client, experiment):
    view = save_view(
        experiment=experiment, name="v", state=ViewState(columns=("metrics.acc",), sort="-metrics.acc")
    )
    page = client.get(experiment_url(experiment, f"?view={view.id}&sort=name"))
    assert run_names(page) == ["fast", "mid", "slow"]  # by name, the view's columns still there
    assert headers_of(page) == ["metrics.acc"]


def test_the_bare_page_opens_in_the_default_view_and_view_empty_in_none(client, experiment):
    view = save_view(
        experiment=experiment, name="Top", state=ViewState(columns=("params.lr",), filter="metrics.acc > 0.3")
    )
    set_default_view(experiment=experiment, view_id=view.id)

    page = client.get(experiment_url(experiment))
    assert run_names(page) == ["mid", "fast"] and headers_of(page) == ["params.lr"]
    html = page.content.decode()
    assert '<span class="default-badge"' in html
    # Its links keep the view's state and say "no view", so clearing the filter clears it.
    clear = re.search(r'<a class="button" href="([^"]+)">Clear</a>', html)[1].replace("&amp;", "&")
    assert parse_qs(urlsplit(clear).query, keep_blank_values=True) == {"col": ["params.lr"], "view": [""]}
    assert run_names(client.get(clear)) == ["mid", "fast", "slow"]

    assert run_names(client.get(experiment_url(experiment, "?view="))) == ["mid", "fast", "slow"]
    assert run_names(client.get(experiment_url(experiment, "?sort=name"))) == ["fast", "mid", "slow"]


def test_an_unknown_view_shows_a_notice_and_the_plain_table(client, experiment):
    page = client.get(experiment_url(experiment, "?view=gone"))
    assert page.status_code == 200 and run_names(page) == ["mid", "fast", "slow"]
    assert "has no saved view “gone”" in page.content.decode()


def test_a_name_taken_is_refused_unless_replacing_is_ticked(client, experiment):
    first = save_view(experiment=experiment, name="Best", state=ViewState(filter="metrics.acc > 0"))
    response = client.post(views_url(experiment, "save"), {"name": "best", "col": ["params.lr"]}, follow=True)
    assert "A view named &#x27;Best&#x27; already exists" in response.content.decode()
    assert saved_views(experiment).views[0].state.filter == "metrics.acc > 0"

    client.post(views_url(experiment, "save"), {"name": "best", "col": ["params.lr"], "overwrite": "1"})
    (view,) = saved_views(experiment).views
    assert (view.id, view.name, view.state.columns) == (first.id, "best", ("params.lr",))


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": ""}, "needs a name"),
        ({"name": "v", "col": ["bogus"]}, "Unknown column"),
        ({"name": "v", "group": "metrics.acc"}, "Unknown grouping"),
    ],
)
def test_a_bad_form_is_refused_with_a_clear_message_and_nothing_saved(client, experiment, form, message):
    response = client.post(views_url(experiment, "save"), form, follow=True)
    assert response.status_code == 200 and message in response.content.decode()
    assert not saved_views(experiment).views


def test_the_default_is_set_and_cleared_and_a_view_deleted_from_the_page(client, experiment):
    view = save_view(experiment=experiment, name="v", state=ViewState(columns=("params.lr",)))
    client.post(views_url(experiment, "default"), {"view": view.id})
    assert saved_views(experiment).default_id == view.id
    html = client.get(experiment_url(experiment)).content.decode()
    assert "Unset default" in html

    client.post(views_url(experiment, "default"), {"view": ""})
    assert saved_views(experiment).default_id is None

    client.post(views_url(experiment, "default"), {"view": view.id})
    response = client.post(views_url(experiment, "delete"), {"view": view.id}, follow=True)
    assert "Deleted the view." in response.content.decode()
    assert not ExperimentTag.objects.filter(
        experiment=experiment, key__startswith="mlflow.sharedViewState"
    ).exists()


def test_deleting_an_unknown_view_is_a_message_not_an_error(client, experiment):
    response = client.post(views_url(experiment, "delete"), {"view": "nope"}, follow=True)
    assert response.status_code == 200 and "No saved view" in response.content.decode()


def test_the_forms_take_posts_only_and_need_the_csrf_token(experiment):
    browser = Client(enforce_csrf_checks=True)
    assert browser.get(views_url(experiment, "save")).status_code == 405
    assert browser.post(views_url(experiment, "save"), {"name": "v"}).status_code == 403
    assert not saved_views(experiment).views


def test_a_refused_form_returns_only_to_this_experiments_page(client, experiment):
    for next_url in ("https://evil.example/", "//evil.example/ws/default/experiments/1/", "/ws/default/"):
        response = client.post(views_url(experiment, "save"), {"name": "", "next": next_url})
        assert response["Location"] == experiment_url(experiment)
    ok = experiment_url(experiment, "?sort=name")
    assert client.post(views_url(experiment, "save"), {"name": "", "next": ok})["Location"] == ok


def test_a_hostile_view_name_is_shown_inert(client, experiment):
    name = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    save_view(experiment=experiment, name=name, state=ViewState())
    # MLflow's API refuses such a key; an imported database might hold one all the same.
    ExperimentTag.objects.create(
        experiment=experiment, key=f'{VIEW_TAG_PREFIX}"><b>x', value=mlflow_envelope("<i>from mlflow</i>", {})
    )
    html = client.get(experiment_url(experiment)).content.decode()
    assert "<script>alert(1)" not in html and "<img src=x" not in html and "<i>from mlflow" not in html
    assert '"><b>x' not in html and "?view=%22%3E%3Cb%3Ex" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;i&gt;from mlflow&lt;/i&gt;" in html


def test_malformed_view_tags_are_skipped_on_the_page(client, experiment):
    set_experiment_tag(experiment=experiment, key=f"{VIEW_TAG_PREFIX}junk", value="{not json")
    set_experiment_tag(experiment=experiment, key=f"{VIEW_TAG_PREFIX}list", value="[]")
    set_experiment_tag(experiment=experiment, key=DEFAULT_VIEW_TAG, value="junk")
    page = client.get(experiment_url(experiment))
    assert page.status_code == 200 and run_names(page) == ["mid", "fast", "slow"]
    assert "No saved views yet." in page.content.decode()
    assert client.get(experiment_url(experiment, "?view=junk")).status_code == 200


def test_view_tags_are_not_shown_as_the_experiments_tags(client, experiment):
    view = save_view(experiment=experiment, name="v", state=ViewState())
    set_default_view(experiment=experiment, view_id=view.id)
    assert 'class="chip"' not in client.get(experiment_url(experiment, "?view=")).content.decode()


def test_a_deleted_experiments_views_open_but_cannot_change(client, experiment):
    view = save_view(experiment=experiment, name="v", state=ViewState(columns=("metrics.acc",)))
    delete_experiment(experiment=experiment)
    html = client.get(experiment_url(experiment, f"?view={view.id}")).content.decode()
    assert "can be opened, not changed" in html and 'class="save-view"' not in html
    response = client.post(views_url(experiment, "delete"), {"view": view.id}, follow=True)
    assert "must be in the &#x27;active&#x27; state" in response.content.decode()
    assert saved_views(experiment).views == [view]


def test_the_workspace_runs_page_has_no_views_menu(client, experiment):
    assert 'id="views-menu"' not in client.get("/ws/default/runs/").content.decode()


def test_several_saved_views_cost_no_extra_query(client, experiment, settings):
    # The runs were written long ago, and a first visit has kept what is computed over them
    # (tracking/run_changes.py) and the workspace it looked up: every visit measured below reads
    # the same kept answers, however long the machine takes between them.
    settings.ACCESS_CACHE_SECONDS = 3600
    Experiment.objects.filter(pk=experiment.pk).update(runs_changed_at=0)
    queries_of(client, experiment_url(experiment))
    plain = queries_of(client, experiment_url(experiment))
    for i in range(12):
        save_view(
            experiment=experiment, name=f"view {i}", state=ViewState(columns=("params.lr", "metrics.acc"))
        )
    view = saved_views(experiment).views[3]
    set_default_view(experiment=experiment, view_id=view.id)

    # The views are read with the experiment's tags, which the plain table reads anyway.
    assert queries_of(client, experiment_url(experiment), views=12) == plain
    assert queries_of(client, experiment_url(experiment, f"?view={view.id}"), views=12) == plain


def queries_of(client, url: str, views: int = 0) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200 and response.content.decode().count('class="view-link"') == views
    return len(captured.captured_queries)


# --- Who may do what ------------------------------------------------------------------------------


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def team_experiment(team):
    experiment = create_experiment(workspace=team.workspace, name="shared")
    view = save_view(experiment=experiment, name="Team view", state=ViewState(columns=("params.lr",)))
    return experiment, view


@pytest.mark.parametrize(
    ("persona", "status"), [("owner", 302), ("contributor", 302), ("reader", 403), ("outsider", 404)]
)
def test_contributors_save_delete_and_set_the_default_readers_only_open(
    auth_on, team, team_experiment, persona, status
):
    experiment, view = team_experiment
    client = signed_in(team.user(persona))
    page = client.get(experiment_url(experiment, f"?view={view.id}"))
    assert page.status_code == (404 if persona == "outsider" else 200)
    if persona == "reader":
        html = page.content.decode()
        assert ">Team view</a>" in html and 'class="save-view"' not in html and "Make default" not in html

    assert client.post(views_url(experiment, "save"), {"name": "mine"}).status_code == status
    assert client.post(views_url(experiment, "default"), {"view": view.id}).status_code == status
    assert client.post(views_url(experiment, "delete"), {"view": view.id}).status_code == status
    changed = status == 302
    assert [v.name for v in saved_views(experiment).views] == (["mine"] if changed else ["Team view"])
    assert saved_views(experiment).default_id is None


def test_a_view_of_another_workspaces_experiment_cannot_be_touched(auth_on, team):
    theirs = create_experiment(workspace=team.other, name="theirs")
    view = save_view(experiment=theirs, name="v", state=ViewState())
    client = signed_in(team.contributor)
    assert (
        client.post(
            f"/ws/team-b/experiments/{theirs.experiment_id}/views/delete", {"view": view.id}
        ).status_code
        == 404
    )
    assert saved_views(theirs).views == [view]


def test_the_saved_tag_is_mlflows_envelope(client, experiment):
    client.post(views_url(experiment, "save"), {"name": "shape", "col": ["params.lr"]})
    (tag,) = ExperimentTag.objects.filter(experiment=experiment, key__startswith=VIEW_TAG_PREFIX)
    envelope = json.loads(tag.value)
    assert (
        envelope["name"] == "shape" and json.loads(envelope["state"])["selectedColumns"][-1] == "params.`lr`"
    )
