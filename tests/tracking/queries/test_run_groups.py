"""The runs table grouped by a param or a tag: counts, each metric's mean, min and max, the runs
without the key as a group of their own, and a filter per group that lists exactly its runs."""

from __future__ import annotations

import math

import pytest

from tracking.errors import InvalidParameterValue
from tracking.models import Run
from tracking.queries.run_groups import MAX_GROUPS, GroupBy, group_table
from tracking.queries.run_table import RunScope, experiment_keys
from tracking.search.runs import filter_and_order_runs
from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint
from tracking.services.runs import Batch, create_run, log_batch


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="grouped")


def make_run(experiment, *, params=(), tags=(), **metrics):
    run = create_run(experiment=experiment, run_name="r", tags=list(tags))
    points = [MetricPoint(key, value, 0, 0) for key, value in metrics.items()]
    log_batch(run=run, batch=Batch(metrics=points, params=list(params)))
    return run


def by_value(table) -> dict:
    return {group.value: group for group in table.groups}


def test_one_group_per_value_with_its_runs_and_metric_spread(experiment):
    make_run(experiment, params=[("opt", "adam")], acc=0.9, loss=0.1)
    make_run(experiment, params=[("opt", "adam")], acc=0.7, loss=0.3)
    make_run(experiment, params=[("opt", "adam")], acc=math.nan)  # left out of the spread
    make_run(experiment, params=[("opt", "sgd")], acc=0.5)
    make_run(experiment, acc=0.1)  # no optimizer

    table = group_table(RunScope.of(experiment), GroupBy("params", "opt"), metric_keys=["acc", "loss"])

    assert [(group.value, group.runs) for group in table.groups] == [("adam", 3), ("sgd", 1), (None, 1)]
    adam = by_value(table)["adam"]
    assert adam.metrics["acc"] == pytest.approx((0.8, 0.7, 0.9))
    assert adam.metrics["loss"] == pytest.approx((0.2, 0.1, 0.3))
    assert "loss" not in by_value(table)["sgd"].metrics
    assert by_value(table)[None].metrics["acc"] == pytest.approx((0.1, 0.1, 0.1))
    assert (table.total_groups, table.total_runs) == (3, 5)


def test_groups_follow_the_filter(experiment):
    make_run(experiment, params=[("opt", "adam")], acc=0.9)
    make_run(experiment, params=[("opt", "adam")], acc=0.2)
    make_run(experiment, params=[("opt", "sgd")], acc=0.95)

    table = group_table(
        RunScope.of(experiment),
        GroupBy("params", "opt"),
        metric_keys=["acc"],
        filter_string="metrics.acc > 0.5",
    )

    assert {group.value: group.runs for group in table.groups} == {"adam": 1, "sgd": 1}
    assert by_value(table)["adam"].metrics["acc"] == pytest.approx((0.9, 0.9, 0.9))
    with pytest.raises(InvalidParameterValue):
        group_table(RunScope.of(experiment), GroupBy("params", "opt"), metric_keys=[], filter_string="acc >")


def test_groups_by_a_tag_across_experiments(experiment, default_workspace):
    other = create_experiment(workspace=default_workspace, name="other")
    make_run(experiment, tags=[("team", "vision")], acc=1.0)
    make_run(other, tags=[("team", "vision")], acc=0.0)
    make_run(other, tags=[("team", "risk"), ("mlflow.user", "ann")])

    table = group_table(RunScope.across([experiment, other]), GroupBy("tags", "team"), metric_keys=["acc"])

    assert {group.value: group.runs for group in table.groups} == {"vision": 2, "risk": 1}
    assert by_value(table)["vision"].metrics["acc"] == pytest.approx((0.5, 0.0, 1.0))
    assert experiment_keys(RunScope.across([experiment, other])).tags == ["team"]  # mlflow.* left out


@pytest.mark.parametrize("value", ["adam", "it's", "a`b", "", None, "x' OR '1'='1"])
def test_each_groups_filter_lists_exactly_its_runs(experiment, value):
    group_by = GroupBy("params", "odd key/x.y")
    wanted = make_run(experiment, params=[] if value is None else [(group_by.key, value)])
    make_run(experiment, params=[(group_by.key, "something else")])

    found = filter_and_order_runs(Run.objects.filter(experiment=experiment), group_by.filter_for(value), [])

    assert [run.pk for run in found] == [wanted.pk]


def test_at_most_max_groups_are_listed_the_largest_first(experiment, monkeypatch):
    monkeypatch.setattr("tracking.queries.run_groups.MAX_GROUPS", 2)
    for value, runs in (("a", 1), ("b", 3), ("c", 2)):
        for _ in range(runs):
            make_run(experiment, params=[("p", value)])

    table = group_table(RunScope.of(experiment), GroupBy("params", "p"), metric_keys=[])

    assert [group.value for group in table.groups] == ["b", "c"]
    assert (table.total_groups, table.total_runs) == (3, 6)
    assert MAX_GROUPS == 200


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.opt", GroupBy("params", "opt")),
        ("tags.a.b", GroupBy("tags", "a.b")),
        ("metrics.acc", None),
        ("params.", None),
        ("", None),
    ],
)
def test_a_grouping_is_read_from_the_url(text, expected):
    assert GroupBy.parse(text) == expected
