"""The experiment page's runs table: MLflow's filter and sort, min/max columns, nesting, paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tracking.errors import InvalidParameterValue
from tracking.queries.run_table import (
    CHILDREN_SHOWN,
    METRIC,
    PARAM,
    Column,
    ExperimentKeys,
    RunScope,
    Sort,
    children_filter,
    experiment_keys,
    parse_column,
    run_table,
)
from tracking.services.experiments import create_experiment, delete_experiment
from tracking.services.metric_points import MetricPoint
from tracking.services.runs import Batch, create_run, delete_run, log_batch, update_run

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ACC = Column(METRIC, "acc")
LR = Column(PARAM, "lr")


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="table")


def make_run(experiment, name, *, minute=0, acc=None, lr=None, parent=None, minutes_long=None, **kwargs):
    tags = [("mlflow.parentRunId", parent.uuid)] if parent else []
    run = create_run(
        experiment=experiment, run_name=name, start_time=T0 + timedelta(minutes=minute), tags=tags, **kwargs
    )
    metrics = [MetricPoint("acc", value, 0, step) for step, value in enumerate(acc or [])]
    log_batch(run=run, batch=Batch(metrics=metrics, params=[("lr", lr)] if lr else []))
    if minutes_long is not None:
        update_run(run=run, status="FINISHED", end_time=run.start_time + timedelta(minutes=minutes_long))
    return run


def names(table) -> list[str]:
    return [row.name for row in table.rows]


def test_it_lists_the_newest_runs_first_by_default(experiment):
    for minute in range(3):
        make_run(experiment, f"r{minute}", minute=minute)

    table = run_table(RunScope.of(experiment), columns=[])

    assert names(table) == ["r2", "r1", "r0"]
    assert (table.total, table.page, table.pages) == (3, 1, 1)


def test_it_leaves_deleted_runs_out(experiment):
    make_run(experiment, "kept")
    delete_run(run=make_run(experiment, "gone"))

    assert names(run_table(RunScope.of(experiment), columns=[])) == ["kept"]


def test_a_deleted_experiment_lists_the_runs_deleted_with_it(experiment):
    make_run(experiment, "r", acc=[0.5], lr="0.1")
    delete_experiment(experiment=experiment)
    experiment.refresh_from_db()

    assert names(run_table(RunScope.of(experiment), columns=[])) == ["r"]
    assert experiment_keys(RunScope.of(experiment)) == ExperimentKeys(["lr"], ["acc"])


def test_it_sorts_by_a_metrics_latest_value_with_missing_values_last(experiment):
    make_run(experiment, "low", acc=[0.9, 0.2], minute=1)
    make_run(experiment, "high", acc=[0.1, 0.8], minute=2)
    make_run(experiment, "none", minute=3)

    ascending = run_table(RunScope.of(experiment), columns=[ACC], sort=Sort("metrics.acc", descending=False))
    descending = run_table(RunScope.of(experiment), columns=[ACC], sort=Sort("metrics.acc", descending=True))

    assert names(ascending) == ["low", "high", "none"]
    assert names(descending) == ["high", "low", "none"]


@pytest.mark.parametrize(
    ("column", "expected"),
    [("max(metrics.acc)", ["low", "high", "none"]), ("min(metrics.acc)", ["low", "high", "none"])],
)
def test_it_sorts_by_a_metrics_min_or_max_which_mlflow_cannot(experiment, column, expected):
    make_run(experiment, "low", acc=[0.9, 0.2], minute=1)  # min 0.2, max 0.9
    make_run(experiment, "high", acc=[0.1, 0.8], minute=2)  # min 0.1, max 0.8
    make_run(experiment, "none", minute=3)

    table = run_table(RunScope.of(experiment), columns=[], sort=Sort(column, descending=True))

    assert names(table) == expected


def test_it_sorts_by_duration_counting_a_running_run_until_now(experiment):
    make_run(experiment, "short", minutes_long=1, minute=1)
    make_run(experiment, "long", minutes_long=30, minute=2)
    make_run(experiment, "medium", minutes_long=5, minute=3)
    make_run(experiment, "still-running", minute=4)  # started in 2026-01-01: the longest

    table = run_table(RunScope.of(experiment), columns=[], sort=Sort("duration", descending=False))

    assert names(table) == ["short", "medium", "long", "still-running"]
    assert table.rows[0].duration == timedelta(minutes=1)


def test_it_sorts_by_a_param_and_by_name(experiment):
    make_run(experiment, "b", lr="0.1")
    make_run(experiment, "a", lr="0.3")
    make_run(experiment, "c", lr="0.2")

    assert names(run_table(RunScope.of(experiment), columns=[LR], sort=Sort("params.lr", False))) == [
        "b",
        "c",
        "a",
    ]
    assert names(run_table(RunScope.of(experiment), columns=[], sort=Sort("name", True))) == ["c", "b", "a"]


def test_it_filters_with_mlflows_syntax(experiment):
    make_run(experiment, "hit", acc=[0.95], lr="0.01")
    make_run(experiment, "wrong-lr", acc=[0.95], lr="0.1")
    make_run(experiment, "low", acc=[0.5], lr="0.01")

    table = run_table(
        RunScope.of(experiment), columns=[], filter_string="metrics.acc > 0.9 and params.lr = '0.01'"
    )

    assert names(table) == ["hit"]


def test_it_raises_mlflows_message_for_a_bad_filter(experiment):
    with pytest.raises(InvalidParameterValue, match="Expected numeric value type for metric"):
        run_table(RunScope.of(experiment), columns=[], filter_string="metrics.acc >> 1")


def test_it_pages_and_keeps_the_page_in_range(experiment):
    for minute in range(5):
        make_run(experiment, f"r{minute}", minute=minute)

    second = run_table(RunScope.of(experiment), columns=[], page=2, page_size=2)
    beyond = run_table(RunScope.of(experiment), columns=[], page=99, page_size=2)

    assert names(second) == ["r2", "r1"]
    assert (second.first, second.last, second.pages) == (3, 4, 3)
    assert beyond.page == 3
    assert names(beyond) == ["r0"]


def test_it_loads_the_shown_columns_with_min_max_and_count(experiment):
    make_run(experiment, "r", acc=[0.5, float("nan"), 0.9, 0.7], lr="0.01")

    row = run_table(RunScope.of(experiment), columns=[ACC, LR]).rows[0]

    assert row.params == {"lr": "0.01"}
    assert row.metrics == {"acc": (0.7, 0.5, 0.9, 4)}


def test_it_loads_no_values_for_columns_not_shown(experiment):
    make_run(experiment, "r", acc=[0.5], lr="0.01")

    row = run_table(RunScope.of(experiment), columns=[]).rows[0]

    assert (row.params, row.metrics) == ({}, {})


def test_it_lists_child_runs_under_their_parent_in_the_tables_order(experiment):
    sweep = make_run(experiment, "sweep", minute=10)
    make_run(experiment, "trial-a", acc=[0.7], parent=sweep, minute=11)
    trial_b = make_run(experiment, "trial-b", acc=[0.9], parent=sweep, minute=12)
    make_run(experiment, "fold", acc=[0.3], parent=trial_b, minute=13)
    make_run(experiment, "single", acc=[0.8], minute=1)

    table = run_table(RunScope.of(experiment), columns=[ACC], sort=Sort("metrics.acc", descending=True))

    assert [(row.name, row.depth) for row in table.rows] == [
        ("single", 0),
        ("sweep", 0),
        ("trial-b", 1),
        ("fold", 2),
        ("trial-a", 1),
    ]
    assert table.total == 2
    assert (
        run_table(RunScope.of(experiment), columns=[], filter_string="attributes.status = 'RUNNING'").total
        == 2
    )
    assert table.rows[3].ancestors == [sweep.uuid, trial_b.uuid]
    assert (table.rows[1].child_count, table.rows[1].children_listed) == (2, 2)
    assert table.rows[3].metrics["acc"][0] == 0.3
    assert table.nested


def test_it_lists_a_child_at_the_top_level_when_the_filter_leaves_its_parent_out(experiment):
    sweep = make_run(experiment, "sweep", minute=10)
    make_run(experiment, "good", acc=[0.95], parent=sweep, minute=11)
    make_run(experiment, "bad", acc=[0.5], parent=sweep, minute=12)

    table = run_table(RunScope.of(experiment), columns=[], filter_string="metrics.acc > 0.9")

    assert [(row.name, row.depth) for row in table.rows] == [("good", 0)]


def test_it_lists_a_few_children_per_parent_and_counts_the_rest(experiment):
    sweep = make_run(experiment, "sweep", minute=0)
    for i in range(CHILDREN_SHOWN + 3):
        make_run(experiment, f"trial-{i}", acc=[i / 10], parent=sweep, minute=i + 1)

    table = run_table(RunScope.of(experiment), columns=[], sort=Sort("metrics.acc", descending=True))

    parent = table.rows[0]
    assert (parent.child_count, parent.children_listed, parent.children_hidden) == (
        CHILDREN_SHOWN + 3,
        CHILDREN_SHOWN,
        3,
    )
    assert names(table)[1:3] == [f"trial-{CHILDREN_SHOWN + 2}", f"trial-{CHILDREN_SHOWN + 1}"]
    everything = run_table(RunScope.of(experiment), columns=[], filter_string=children_filter(sweep.uuid))
    assert everything.total == CHILDREN_SHOWN + 3


def test_a_run_whose_parent_is_elsewhere_is_a_top_level_run(experiment, default_workspace):
    other = create_experiment(workspace=default_workspace, name="other")
    outside = make_run(other, "outside")
    make_run(experiment, "child", parent=outside)

    assert [(row.name, row.depth) for row in run_table(RunScope.of(experiment), columns=[]).rows] == [
        ("child", 0)
    ]


def test_the_experiment_keys_are_its_active_runs_param_and_metric_keys(experiment):
    make_run(experiment, "a", acc=[1.0], lr="0.1")
    run = make_run(experiment, "b", lr="0.2")
    log_batch(run=run, batch=Batch(params=[("depth", "3")], metrics=[MetricPoint("loss", 1.0, 0, 0)]))
    delete_run(run=make_run(experiment, "gone", lr="1"))

    assert experiment_keys(RunScope.of(experiment)) == ExperimentKeys(["depth", "lr"], ["acc", "loss"])


def test_the_keys_cost_one_query_even_right_after_a_write(experiment, django_assert_num_queries):
    run = make_run(experiment, "a", acc=[1.0], lr="0.1")
    log_batch(run=run, batch=Batch(params=[("depth", "3")], tags=[("team", "a")]))

    with django_assert_num_queries(1):  # the experiment's registry: no run is read
        keys = experiment_keys(RunScope.of(experiment))

    assert keys == ExperimentKeys(["depth", "lr"], ["acc"], ["team"])


def test_a_deleted_experiments_keys_are_those_of_the_runs_deleted_with_it(experiment):
    make_run(experiment, "a", acc=[1.0], lr="0.1")
    delete_experiment(experiment=experiment)
    experiment.refresh_from_db()

    assert experiment_keys(RunScope.of(experiment)) == ExperimentKeys(["lr"], ["acc"])


def test_the_default_columns_fill_a_screen_with_both_kinds():
    keys = ExperimentKeys([f"p{i:02}" for i in range(20)], ["acc", "loss"])

    columns = keys.default_columns()

    assert [column.id for column in columns[-2:]] == ["metrics.acc", "metrics.loss"]
    assert len(columns) == 16


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("params.lr", Column(PARAM, "lr")),
        ("metrics.val loss", Column(METRIC, "val loss")),
        ("metrics.a.b", Column(METRIC, "a.b")),
        ("max(metrics.acc)", Column(METRIC, "acc", "max")),
        ("min(metrics.a/b:c)", Column(METRIC, "a/b:c", "min")),
        ("tags.x", None),
        ("metrics.", None),
        ("avg(metrics.acc)", None),
    ],
)
def test_a_column_id_reads_back_as_the_same_column(text, column):
    assert parse_column(text) == column
    if column:
        assert column.id == text


@pytest.mark.parametrize(
    ("text", "order_by"),
    [
        ("-metrics.val loss", "metrics.`val loss` DESC"),
        ("params.lr", "params.`lr` ASC"),
        ("name", "attributes.run_name ASC"),
        ("-start", "attributes.start_time DESC"),
        ("max(metrics.acc)", None),
        ("duration", None),
    ],
)
def test_a_sort_is_mlflows_order_by_where_mlflow_can_say_it(text, order_by):
    sort = Sort.parse(text)

    assert str(sort) == text
    assert sort.mlflow_order_by() == order_by


def test_an_unknown_sort_is_the_default():
    assert Sort.parse("-bogus") == Sort("start", descending=True)


@pytest.mark.parametrize("runs", [3, 30])
def test_it_costs_the_same_queries_for_3_or_30_runs(experiment, runs, django_assert_num_queries):
    sweep = make_run(experiment, "sweep")
    for i in range(runs):
        make_run(experiment, f"r{i}", acc=[i, i + 1], lr=str(i), parent=sweep if i % 3 == 0 else None)

    # the links' change mark (tracking.run_changes), links, count, page, children, params, metrics
    with django_assert_num_queries(7):
        table = run_table(
            RunScope.of(experiment), columns=[ACC, LR, Column(METRIC, "acc", "max")], filter_string=""
        )

    assert table.nested


# --- Several experiments at once (the workspace's runs page) -----------------------------------


def test_a_scope_of_several_experiments_lists_their_runs_in_one_table(experiment, default_workspace):
    other = create_experiment(workspace=default_workspace, name="other")
    make_run(experiment, "here", minute=1, acc=[0.5], lr="0.1")
    make_run(other, "there", minute=2, acc=[0.9], lr="0.01")
    scope = RunScope.across([experiment, other])

    table = run_table(scope, columns=[ACC, LR], filter_string="metrics.acc > 0.8 OR params.lr = '0.1'")

    assert names(table) == ["there", "here"]
    assert [row.experiment_pk for row in table.rows] == [other.pk, experiment.pk]
    assert experiment_keys(scope) == ExperimentKeys(["lr"], ["acc"])


def test_a_scope_across_experiments_leaves_deleted_ones_out(experiment, default_workspace):
    other = create_experiment(workspace=default_workspace, name="other")
    make_run(experiment, "kept")
    make_run(other, "gone")
    delete_experiment(experiment=other)
    other.refresh_from_db()

    assert names(run_table(RunScope.across([experiment, other]), columns=[])) == ["kept"]
    assert run_table(RunScope.across([other]), columns=[]).total == 0
    assert experiment_keys(RunScope.across([])) == ExperimentKeys([], [])


def test_child_runs_nest_under_their_parent_within_each_experiment(experiment, default_workspace):
    other = create_experiment(workspace=default_workspace, name="other")
    parent = make_run(experiment, "sweep", minute=1)
    make_run(experiment, "trial", minute=2, parent=parent)
    make_run(other, "alone", minute=3)

    table = run_table(RunScope.across([experiment, other]), columns=[])

    assert [(row.name, row.depth) for row in table.rows] == [("alone", 0), ("sweep", 0), ("trial", 1)]
    assert table.total == 2
