"""What is computed over an experiment's runs is kept until a write changes them: every kind of
write marks the experiment, a busy process marks it at most once a second, and a kept answer is
used only when no write can have come after it."""

from __future__ import annotations

import time

import pytest

from tracking import run_changes
from tracking.models import Experiment
from tracking.queries.run_groups import GroupBy, group_table
from tracking.queries.run_table import RunScope, run_table
from tracking.run_changes import kept_for_runs, note_runs_changed
from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint, delete_metric
from tracking.services.runs import (
    Batch,
    DatasetSpec,
    create_run,
    delete_run,
    delete_tag,
    log_batch,
    log_inputs,
    log_metric,
    log_param,
    restore_run,
    set_tag,
    update_run,
)

T0 = 1_700_000_000_000


@pytest.fixture(autouse=True)
def no_notes_remembered():
    run_changes.forget_notes()
    yield
    run_changes.forget_notes()


@pytest.fixture(autouse=True)
def a_cache_of_this_process(settings):
    """What these tests keep must stay kept: the suite's shared folder cache holds 5,000 entries
    and, once full, another test process's write deletes a random third of them."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="sweep")


@pytest.fixture
def run(experiment):
    run = create_run(experiment=experiment, run_name="r")
    log_batch(run=run, batch=Batch(metrics=[MetricPoint("acc", 0.5, T0, 0)], params=[("lr", "0.1")]))
    return run


def quiet(experiment, seconds: float = 60) -> None:
    """As if nothing had written to the experiment's runs for a while."""
    Experiment.objects.filter(pk=experiment.pk).update(runs_changed_at=time.time() - seconds)


def marked(experiment) -> float:
    return Experiment.objects.get(pk=experiment.pk).runs_changed_at


WRITES = {
    "create_run": lambda run: create_run(experiment=run.experiment, run_name="another"),
    "log_metric": lambda run: log_metric(run=run, point=MetricPoint("acc", 0.9, T0 + 1, 1)),
    "log_batch": lambda run: log_batch(run=run, batch=Batch(tags=[("team", "a")])),
    "log_param": lambda run: log_param(run=run, key="depth", value="3"),
    "set_tag": lambda run: set_tag(run=run, key="team", value="b"),
    "delete_tag": lambda run: (set_tag(run=run, key="x", value="1"), delete_tag(run=run, key="x")),
    "update_run": lambda run: update_run(run=run, status="FAILED"),
    "delete_run": lambda run: delete_run(run=run),
    "restore_run": lambda run: restore_run(run=run),
    "delete_metric": lambda run: delete_metric(run.pk, "acc"),
    "log_inputs": lambda run: log_inputs(run=run, datasets=[DatasetSpec("d", "1", "local", "{}")]),
}


@pytest.mark.parametrize("write", WRITES)
def test_every_write_to_a_run_marks_its_experiment(experiment, run, write):
    quiet(experiment)
    before = time.time()

    WRITES[write](run)

    assert marked(experiment) >= before


def test_a_process_marks_an_experiment_at_most_once_a_second(
    experiment, django_capture_on_commit_callbacks, django_assert_num_queries
):
    with django_capture_on_commit_callbacks(execute=True):
        note_runs_changed([experiment.pk])
    with django_assert_num_queries(0):
        note_runs_changed([experiment.pk])


def test_a_rolled_back_mark_excuses_nothing(
    experiment, django_capture_on_commit_callbacks, django_assert_num_queries
):
    with django_capture_on_commit_callbacks(execute=False):  # as if the write rolled back
        note_runs_changed([experiment.pk])
    with django_assert_num_queries(1):
        note_runs_changed([experiment.pk])


def test_a_kept_answer_is_used_while_the_runs_are_quiet(experiment, run, django_assert_num_queries):
    quiet(experiment)
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    assert kept_for_runs("answer", [experiment.pk], "active", (), compute) == 1
    with django_assert_num_queries(1):  # the experiment's mark and run count, nothing else
        assert kept_for_runs("answer", [experiment.pk], "active", (), compute) == 1
    assert kept_for_runs("answer", [experiment.pk], "active", ("other arguments",), compute) == 2


def test_an_answer_computed_soon_after_a_write_is_not_kept(experiment, run):
    # A write of the last second may not have marked the experiment: nothing may be kept yet.
    calls = []
    for _ in range(2):
        kept_for_runs("answer", [experiment.pk], "active", (), lambda: calls.append(1))
    assert len(calls) == 2


def test_runs_created_or_purged_without_a_mark_change_the_answer(experiment, run):
    quiet(experiment)
    calls = []
    kept_for_runs("answer", [experiment.pk], "active", (), lambda: calls.append(1))
    other = create_run(experiment=experiment, run_name="other")
    quiet(experiment)  # as if its mark were lost: the run count still tells

    kept_for_runs("answer", [experiment.pk], "active", (), lambda: calls.append(1))

    assert len(calls) == 2 and other.pk


def test_the_grouped_table_shows_a_new_value_as_soon_as_it_is_logged(experiment, run):
    quiet(experiment)
    scope = RunScope.of(experiment)
    group_by = GroupBy.parse("params.lr")
    assert group_table(scope, group_by, metric_keys=["acc"]).groups[0].metrics["acc"][0] == 0.5

    log_metric(run=run, point=MetricPoint("acc", 0.7, T0 + 5, 5))

    assert group_table(scope, group_by, metric_keys=["acc"]).groups[0].metrics["acc"][0] == 0.7


def test_a_quiet_experiments_nesting_is_kept_until_a_child_run_comes(
    experiment, run, django_assert_num_queries
):
    quiet(experiment)
    scope = RunScope.of(experiment)
    run_table(scope, columns=[])

    with django_assert_num_queries(3):  # the change mark, the count and the page: no links query
        assert not run_table(scope, columns=[]).nested

    create_run(experiment=experiment, run_name="child", tags=[("mlflow.parentRunId", run.uuid)])
    table = run_table(scope, columns=[])
    assert table.nested and table.total == 1


def test_the_mark_never_goes_back(experiment):
    later = time.time() + 100
    Experiment.objects.filter(pk=experiment.pk).update(runs_changed_at=later)

    note_runs_changed([experiment.pk])

    assert marked(experiment) == later
