"""Saved views of the runs table in MLflow's experiment-tag format: reading what MLflow's UI
writes, writing what it reads, and skipping whatever else a client left under the prefix."""

from __future__ import annotations

import base64
import json
import secrets
import zlib

import pytest

from tracking.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from tracking.models import ExperimentTag
from tracking.queries.experiments import experiment_tags
from tracking.queries.saved_views import (
    DEFAULT_VIEW_TAG,
    MAX_VIEWS,
    VIEW_TAG_PREFIX,
    ViewState,
    parse_view,
    saved_views,
    views_from_tags,
)
from tracking.services.experiments import create_experiment, delete_experiment, set_experiment_tag
from tracking.services.saved_views import delete_view, save_view, set_default_view

# The page state MLflow's UI (3.16) saves from its runs table: facets and UI state merged.
MLFLOW_STATE = {
    "searchFilter": "metrics.acc > 0.5",
    "orderByKey": "metrics.`acc`",
    "orderByAsc": False,
    "startTime": "ALL",
    "lifecycleFilter": "Active",
    "datasetsFilter": [],
    "modelVersionFilter": "All Runs",
    "selectedColumns": [
        "attributes.`Source`",
        "attributes.`Models`",
        "params.`lr`",
        "metrics.`acc`",
        "tags.`team`",
        "metrics.`val loss`",
    ],
    "columnOrder": [],
    "runsHiddenMode": "FIRST_10_RUNS",
    "compareRunCharts": [{"uuid": "c1", "type": "BAR", "metricKey": "acc", "metricSectionId": "s1"}],
    "compareRunSections": [{"uuid": "s1", "name": "Model metrics", "display": True}],
    "groupBy": {
        "aggregateFunction": "average",
        "groupByKeys": [{"mode": "param", "groupByData": "optimizer"}],
    },
    "viewMaximized": False,
}


# A tag MLflow 3.17.2's UI wrote, verbatim ("Save as new view" on its runs page, with the filter
# `metrics.acc > 0.5`, sorted by acc ascending, the columns lr and acc picked); its state deflated.
MLFLOW_UI_TAG = (
    "mlflow.sharedViewState.179655850616428t9t7bi",
    '{"name":"Accurate, in MLflow","createdAt":1796558506164,"updatedAt":1796558506164,"state":"deflate;'
    "eJxdUk1PAjEQ/SukZ2Lw4GUPJiuCEkET8CshRks7sJN0202n1V0J/93prgh47Jv3Zt686VYQSK+KMZoAXmSihOBR0ZlUqnfZG5xd"
    "iL5wXoO/au6gOSJ8MOPjUMxJiSz4CH1BQfrwiCUwO59OmWNwDapRBv7G5CrgJ3BJyyAJAu0ry7e+KJ0G8wye0NmDwpjePFpiDYEB"
    "FUAPnYklI9lSyMCuVjEAG1u46BUkb8foLDWl/+h1Nz7BlfSyZMj49Dpdk02pdthD2rZz2QEvqEPBFra7vvBs7xa1BpuGsefxZL54"
    "fD8fvM+f7hfc9BPhayZrLPEbtMjW0hC0silS6JR/KFKuFIfLGcyhDflIEgluvIsV6GdpItDEDgsOnfYnKFDDqKxCcwpvkuaKr2ij"
    'Mb9PGtWVtDo1TztsjFtJM0ULrXTo7Bo3XBJ1XiN1X4ACVO1VLSxK50JhgXjG4HCZ10SetRF2ErHb/QDuwdqx"}',
)


def mlflow_envelope(name: str, state: dict, *, compressed: bool = False) -> str:
    text = json.dumps(state)
    if compressed:
        text = "deflate;" + base64.b64encode(zlib.compress(text.encode())).decode()
    return json.dumps({"name": name, "createdAt": 1767225600000, "updatedAt": 1767225600000, "state": text})


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="mnist")


# --- Reading MLflow's format -------------------------------------------------------------------


@pytest.mark.parametrize("compressed", [False, True])
def test_it_opens_a_view_saved_by_mlflows_ui_with_its_columns_sort_filter_and_grouping(compressed):
    view = parse_view("abc123", mlflow_envelope("Best runs", MLFLOW_STATE, compressed=compressed))
    assert view.name == "Best runs"
    assert view.created_at.year == 2026
    # MLflow's tag and attribute columns are not columns of the table here; the attributes always are.
    assert view.state == ViewState(
        columns=("params.lr", "metrics.acc", "metrics.val loss"),
        sort="-metrics.acc",
        filter="metrics.acc > 0.5",
        group="params.optimizer",
    )
    assert view.state.query() == {
        "col": ["params.lr", "metrics.acc", "metrics.val loss"],
        "sort": ["-metrics.acc"],
        "filter": ["metrics.acc > 0.5"],
        "group": ["params.optimizer"],
    }


def test_it_opens_a_tag_mlflows_ui_wrote():
    (view,) = views_from_tags([MLFLOW_UI_TAG]).views
    assert (view.id, view.name) == ("179655850616428t9t7bi", "Accurate, in MLflow")
    assert view.state == ViewState(
        columns=("params.lr", "metrics.acc"), sort="metrics.acc", filter="metrics.acc > 0.5"
    )
    assert view.mlflow_state["globalLineChartConfig"]["xAxisKey"] == "step"


@pytest.mark.parametrize(
    ("order_by", "ascending", "sort"),
    [
        ("attributes.start_time", False, ""),
        ("attributes.start_time", True, "start"),
        ("tags.`mlflow.runName`", True, "name"),
        ("tags.`mlflow.user`", False, "-user"),
        ("params.`lr`", True, "params.lr"),
        ("metrics.acc", True, "metrics.acc"),
        ("tags.`team`", True, ""),  # MLflow can sort by a run tag; this table cannot
    ],
)
def test_it_maps_mlflows_order_by_key_to_the_tables_sort(order_by, ascending, sort):
    state = {"orderByKey": order_by, "orderByAsc": ascending}
    assert parse_view("v", mlflow_envelope("v", state)).state.sort == sort


def test_it_reads_mlflows_older_group_by_string_and_tag_groupings():
    assert parse_view("v", mlflow_envelope("v", {"groupBy": "tag.min.team"})).state.group == "tags.team"
    tag_group = {
        "groupByKeys": [{"mode": "dataset", "groupByData": "d"}, {"mode": "tag", "groupByData": "t"}]
    }
    assert parse_view("v", mlflow_envelope("v", {"groupBy": tag_group})).state.group == "tags.t"


def test_a_view_without_selected_columns_keeps_the_tables_default_columns():
    view = parse_view("v", mlflow_envelope("v", {"searchFilter": "params.lr = '0.1'"}))
    assert view.state.columns is None and "col" not in view.state.query()


def test_a_view_of_mlflows_attributes_only_shows_no_param_or_metric_column():
    view = parse_view("v", mlflow_envelope("v", {"selectedColumns": ["attributes.`Source`"]}))
    assert view.state.query()["col"] == [""]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not json",
        "[1, 2]",
        json.dumps({"name": "x", "createdAt": 1}),  # no state
        json.dumps({"name": "", "createdAt": 1, "state": "{}"}),
        json.dumps({"name": 3, "createdAt": 1, "state": "{}"}),
        json.dumps({"name": "x", "createdAt": "yesterday", "state": "{}"}),
        json.dumps({"name": "x", "createdAt": 1, "state": "[]"}),
        json.dumps({"name": "x", "createdAt": 1, "state": "deflate;!!!not base64"}),
        json.dumps(
            {"name": "x", "createdAt": 1, "state": "deflate;" + base64.b64encode(b"not zlib").decode()}
        ),
        json.dumps({"name": "x", "createdAt": 1e300, "state": "{}"}),
        # A decompression bomb: 1 MB of zeros fits in a tag once deflated.
        json.dumps(
            {
                "name": "x",
                "createdAt": 1,
                "state": "deflate;"
                + base64.b64encode(zlib.compress(b"[" + b"0," * 2_000_000 + b"0]")).decode(),
            }
        ),
        json.dumps(MLFLOW_STATE),  # an older share-link state: no envelope, no name
        "[" * 5000 + "]" * 5000,
    ],
)
def test_it_skips_a_tag_value_that_is_not_a_view(value):
    assert parse_view("v", value) is None
    assert views_from_tags([(f"{VIEW_TAG_PREFIX}v", value)]).views == []


def test_fields_of_the_wrong_type_are_treated_as_absent():
    state = {
        "selectedColumns": "params.`lr`",
        "orderByKey": 5,
        "searchFilter": ["x"],
        "groupBy": [1],
        "studio": 7,
    }
    assert parse_view("v", mlflow_envelope("v", state)).state == ViewState()


def test_the_list_is_by_name_and_ignores_other_tags_and_an_empty_id():
    tags = [
        (f"{VIEW_TAG_PREFIX}b", mlflow_envelope("beta", {})),
        (f"{VIEW_TAG_PREFIX}a", mlflow_envelope("Alpha", {})),
        (VIEW_TAG_PREFIX, mlflow_envelope("no id", {})),
        ("mlflow.sharedViewStateX", mlflow_envelope("other", {})),
        ("team", "vision"),
        (DEFAULT_VIEW_TAG, "b"),
    ]
    views = views_from_tags(tags)
    assert [(view.id, view.name) for view in views.views] == [("a", "Alpha"), ("b", "beta")]
    assert views.default.name == "beta"
    assert views_from_tags([(DEFAULT_VIEW_TAG, "gone")]).default is None


# --- Saving --------------------------------------------------------------------------------------


def test_a_saved_view_round_trips_and_has_mlflows_shape(experiment):
    state = ViewState(
        columns=("params.lr", "max(metrics.acc)", "metrics.loss"),
        sort="-min(metrics.loss)",
        filter="params.lr = '0.1'",
        group="tags.team",
    )
    view = save_view(experiment=experiment, name="  Sweep  ", state=state)
    assert view.name == "Sweep" and view.state == state
    assert saved_views(experiment).views == [view]

    value = ExperimentTag.objects.get(experiment=experiment, key=f"{VIEW_TAG_PREFIX}{view.id}").value
    envelope = json.loads(value)
    assert set(envelope) == {"name", "createdAt", "updatedAt", "state"}
    assert envelope["name"] == "Sweep" and isinstance(envelope["createdAt"], int)
    mlflow_state = json.loads(envelope["state"])
    assert mlflow_state["searchFilter"] == "params.lr = '0.1'"
    # What MLflow cannot say (a min or max) is the nearest thing it can: the metric itself.
    assert mlflow_state["orderByKey"] == "metrics.`loss`" and mlflow_state["orderByAsc"] is False
    assert mlflow_state["selectedColumns"] == [
        "attributes.`Source`",
        "attributes.`Models`",
        "attributes.`Dataset`",
        "params.`lr`",
        "metrics.`acc`",
        "metrics.`loss`",
    ]
    assert mlflow_state["groupBy"] == {
        "aggregateFunction": "average",
        "groupByKeys": [{"mode": "tag", "groupByData": "team"}],
    }


def test_it_refuses_a_name_taken_ignoring_case_unless_told_to_overwrite(experiment):
    first = save_view(experiment=experiment, name="Best", state=ViewState(filter="a = 1"))
    with pytest.raises(ResourceAlreadyExists, match="already exists"):
        save_view(experiment=experiment, name=" best ", state=ViewState(filter="b = 2"))
    replaced = save_view(experiment=experiment, name="BEST", state=ViewState(filter="b = 2"), overwrite=True)
    assert replaced.id == first.id and replaced.name == "BEST" and replaced.state.filter == "b = 2"
    assert replaced.created_at == first.created_at
    assert [view.name for view in saved_views(experiment).views] == ["BEST"]


def test_overwriting_a_view_from_mlflow_keeps_its_charts(experiment):
    set_experiment_tag(
        experiment=experiment, key=f"{VIEW_TAG_PREFIX}m1", value=mlflow_envelope("Charts", MLFLOW_STATE)
    )
    save_view(experiment=experiment, name="charts", state=ViewState(columns=("metrics.acc",)), overwrite=True)
    value = ExperimentTag.objects.get(experiment=experiment, key=f"{VIEW_TAG_PREFIX}m1").value
    state = json.loads(json.loads(value)["state"])
    assert state["compareRunCharts"] == MLFLOW_STATE["compareRunCharts"]
    assert state["selectedColumns"][-1] == "metrics.`acc`" and state["groupBy"] is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "needs a name"),
        ("   ", "needs a name"),
        ("x" * 101, "maximum length of 100"),
        ("line\nbreak", "control characters"),
        ("nul\x00", "control characters"),
    ],
)
def test_it_refuses_a_bad_name(experiment, name, message):
    with pytest.raises(InvalidParameterValue, match=message):
        save_view(experiment=experiment, name=name, state=ViewState())
    assert not ExperimentTag.objects.filter(experiment=experiment).exists()


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (ViewState(columns=("attributes.status",)), "Unknown column"),
        (ViewState(sort="metrics"), "Unknown sort"),
        (ViewState(group="metrics.acc"), "Unknown grouping"),
        # Random text: too large even compressed.
        (ViewState(filter=f"params.x = '{secrets.token_hex(20000)}'"), "too large"),
    ],
)
def test_it_refuses_a_state_the_table_cannot_show_or_too_large_to_keep(experiment, state, message):
    with pytest.raises(InvalidParameterValue, match=message):
        save_view(experiment=experiment, name="v", state=state)
    assert not ExperimentTag.objects.filter(experiment=experiment).exists()


def test_a_view_too_large_as_plain_json_is_compressed_as_mlflow_does(experiment):
    columns = tuple(f"params.hyperparameter_number_{i:04d}" for i in range(400))
    view = save_view(experiment=experiment, name="wide", state=ViewState(columns=columns))
    value = ExperimentTag.objects.get(experiment=experiment, key=view.tag_key).value
    assert json.loads(value)["state"].startswith("deflate;") and len(value) <= 20000
    assert saved_views(experiment).views[0].state.columns == columns


def test_it_refuses_more_views_than_mlflow_allows(experiment):
    for i in range(MAX_VIEWS):
        set_experiment_tag(
            experiment=experiment, key=f"{VIEW_TAG_PREFIX}{i}", value=mlflow_envelope(f"v{i}", {})
        )
    with pytest.raises(InvalidParameterValue, match="maximum of 40"):
        save_view(experiment=experiment, name="one more", state=ViewState())
    save_view(experiment=experiment, name="V3", state=ViewState(), overwrite=True)  # replacing is fine


def test_a_deleted_experiments_views_cannot_change(experiment):
    view = save_view(experiment=experiment, name="v", state=ViewState())
    delete_experiment(experiment=experiment)
    with pytest.raises(InvalidParameterValue, match="active"):
        save_view(experiment=experiment, name="w", state=ViewState())
    with pytest.raises(InvalidParameterValue, match="active"):
        delete_view(experiment=experiment, view_id=view.id)


# --- Default and deleting ------------------------------------------------------------------------


def test_the_default_is_set_cleared_and_goes_with_its_view(experiment):
    first = save_view(experiment=experiment, name="first", state=ViewState())
    second = save_view(experiment=experiment, name="second", state=ViewState())
    set_default_view(experiment=experiment, view_id=first.id)
    assert saved_views(experiment).default == first
    set_default_view(experiment=experiment, view_id=None)
    assert saved_views(experiment).default is None
    set_default_view(experiment=experiment, view_id=None)  # clearing twice is fine

    set_default_view(experiment=experiment, view_id=second.id)
    delete_view(experiment=experiment, view_id=second.id)
    tags = dict(experiment_tags([experiment])[experiment.pk])
    assert DEFAULT_VIEW_TAG not in tags and f"{VIEW_TAG_PREFIX}{second.id}" not in tags
    assert [view.name for view in saved_views(experiment).views] == ["first"]


def test_it_refuses_an_unknown_view(experiment):
    with pytest.raises(ResourceDoesNotExist):
        set_default_view(experiment=experiment, view_id="nope")
    with pytest.raises(ResourceDoesNotExist):
        delete_view(experiment=experiment, view_id="nope")
    set_experiment_tag(experiment=experiment, key=f"{VIEW_TAG_PREFIX}bad", value="not a view")
    with pytest.raises(ResourceDoesNotExist):
        delete_view(experiment=experiment, view_id="bad")
