"""Each experiment's key registry holds exactly the param, metric and (users' own) tag keys its
active runs hold: every write that logs a key registers it, in its own transaction; a key leaves
with the last active run holding it; the migration fills it from the runs already there."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection

from tracking.deletion import purge
from tracking.deletion.scope import resolve
from tracking.models import Deletion, ExperimentKey, MetricSummary, Param, RunTag
from tracking.run_changes import forget_notes
from tracking.services.deletions import request_deletion
from tracking.services.experiments import create_experiment, delete_experiment, restore_experiment
from tracking.services.metric_points import MetricPoint, delete_metric
from tracking.services.runs import (
    Batch,
    create_run,
    delete_run,
    delete_tag,
    log_batch,
    log_metric,
    log_param,
    restore_run,
    set_tag,
)

T0 = 1_700_000_000_000


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="registered")


def registered(experiment) -> set[tuple[str, str]]:
    return set(ExperimentKey.objects.filter(experiment=experiment).values_list("kind", "key"))


def held(experiment) -> set[tuple[str, str]]:
    """What the registry must hold, read from the runs themselves."""
    active = {"run__experiment": experiment, "run__lifecycle_stage": "active"}
    return (
        {("param", key) for key in Param.objects.filter(**active).values_list("key", flat=True)}
        | {("metric", key) for key in MetricSummary.objects.filter(**active).values_list("key", flat=True)}
        | {
            ("tag", key)
            for key in RunTag.objects.filter(**active).values_list("key", flat=True)
            if not key.startswith("mlflow.")
        }
    )


def run_with(experiment, *, params=(), metrics=(), tags=()):
    run = create_run(experiment=experiment)
    log_batch(
        run=run,
        batch=Batch(
            params=[(key, "1") for key in params],
            metrics=[MetricPoint(key, 1.0, T0, 0) for key in metrics],
            tags=[(key, "1") for key in tags],
        ),
    )
    return run


# --- Every writer registers its keys ------------------------------------------------------------


def test_creating_a_run_registers_its_own_tags_but_not_mlflows(experiment):
    create_run(
        experiment=experiment, tags=[("team", "a"), ("mlflow.user", "ann"), ("mlflow.source.name", "x")]
    )

    assert registered(experiment) == {("tag", "team")}


def test_log_param_set_tag_and_log_metric_register_their_keys(experiment):
    run = create_run(experiment=experiment)

    log_param(run=run, key="lr", value="0.1")
    set_tag(run=run, key="team", value="a")
    log_metric(run=run, point=MetricPoint("acc", 0.5, T0, 0))

    assert registered(experiment) == {("param", "lr"), ("tag", "team"), ("metric", "acc")}


def test_log_batch_registers_its_params_tags_and_metrics(experiment):
    run_with(
        experiment, params=["lr", "depth"], metrics=["acc", "loss"], tags=["team", "mlflow.note.content"]
    )

    assert registered(experiment) == {
        ("param", "lr"),
        ("param", "depth"),
        ("metric", "acc"),
        ("metric", "loss"),
        ("tag", "team"),
    }


def test_a_key_many_runs_log_is_registered_once(experiment):
    for _ in range(3):
        run = run_with(experiment, params=["lr"], metrics=["acc"])
        log_metric(run=run, point=MetricPoint("acc", 0.7, T0 + 1, 1))

    assert ExperimentKey.objects.filter(experiment=experiment).count() == 2


def test_each_experiment_has_a_registry_of_its_own(experiment, default_workspace):
    other = create_experiment(workspace=default_workspace, name="other")
    run_with(experiment, params=["lr"])
    delete_run(run=run_with(other, params=["lr"]))

    assert registered(experiment) == {("param", "lr")}
    assert registered(other) == set()


# --- A key leaves with the last active run holding it ---------------------------------------------


def test_deleting_the_last_run_holding_a_key_unregisters_it_and_deleting_one_of_two_does_not(experiment):
    shared_a = run_with(experiment, params=["lr"], metrics=["acc"], tags=["team"])
    run_with(experiment, params=["lr"], metrics=["acc"], tags=["team"])
    alone = run_with(experiment, params=["depth"], metrics=["loss"], tags=["owner"])

    delete_run(run=shared_a)
    delete_run(run=alone)

    assert registered(experiment) == {("param", "lr"), ("metric", "acc"), ("tag", "team")}
    assert registered(experiment) == held(experiment)


def test_restoring_a_run_brings_its_keys_back(experiment):
    run = run_with(experiment, params=["lr"], metrics=["acc"], tags=["team"])
    delete_run(run=run)
    assert registered(experiment) == set()

    restore_run(run=run)

    assert registered(experiment) == {("param", "lr"), ("metric", "acc"), ("tag", "team")}


def test_deleting_a_tag_unregisters_it_when_no_other_active_run_has_it(experiment):
    run, other = run_with(experiment, tags=["team", "owner"]), run_with(experiment, tags=["team", "owner"])
    delete_run(run=other)  # a deleted run's tag keeps no key

    delete_tag(run=run, key="team")
    assert registered(experiment) == {("tag", "owner")}

    third = run_with(experiment, tags=["owner"])
    delete_tag(run=third, key="owner")
    assert registered(experiment) == {("tag", "owner")}  # `run` still has it


def test_deleting_a_metric_unregisters_it_when_no_other_active_run_has_it(experiment):
    run = run_with(experiment, metrics=["acc", "loss"])
    run_with(experiment, metrics=["loss"])

    delete_metric(run.pk, "acc")
    delete_metric(run.pk, "loss")

    assert registered(experiment) == {("metric", "loss")}


def test_deleting_an_experiment_empties_its_registry_and_restoring_it_fills_it_again(experiment):
    run_with(experiment, params=["lr"], metrics=["acc"], tags=["team"])
    delete_run(run=run_with(experiment, params=["depth"]))  # comes back with the experiment

    delete_experiment(experiment=experiment)
    assert registered(experiment) == set()

    restore_experiment(experiment=experiment)
    assert registered(experiment) == {("param", "lr"), ("param", "depth"), ("metric", "acc"), ("tag", "team")}


def test_a_deletion_for_good_unregisters_the_runs_keys_when_asked_for_and_when_carried_out(
    experiment, settings, tmp_path
):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    run_with(experiment, params=["lr"])
    doomed = run_with(experiment, params=["lr", "depth"], metrics=["acc"])

    row = request_deletion(resolve(Deletion.RUN, doomed.pk), confirmation=doomed.uuid, enqueue=False)
    assert registered(experiment) == {("param", "lr")}  # hidden at once, keys with it

    purge.carry_out(row.pk, worker="test-worker")
    assert registered(experiment) == {("param", "lr")} == held(experiment)


def test_purging_a_run_still_active_unregisters_its_keys(experiment, settings, tmp_path):
    """A deletion row made without hiding its run first (one asked for before the registry)."""
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    run_with(experiment, params=["lr"])
    doomed = run_with(experiment, params=["lr", "depth"])
    row = Deletion.objects.create(kind=Deletion.RUN, target_id=doomed.pk, target_name=doomed.uuid)

    purge.carry_out(row.pk, worker="test-worker")

    assert registered(experiment) == {("param", "lr")} == held(experiment)


# --- Its cost in the writes ------------------------------------------------------------------------

# log_metric: the savepoint, the point (on PostgreSQL with its key and the summary, one statement),
# the experiment's change mark, the savepoint's release; SQLite cannot put the key and the summary in
# the points' statement (no data-modifying CTE), so they are statements of their own, and its
# points' INSERT goes to sqlite3 itself, past Django's count (tracking.services.metric_points).
LOG_METRIC_QUERIES = 4 if connection.vendor == "postgresql" else 5


def test_log_metric_registers_its_key_without_a_statement_of_its_own_on_postgresql(
    experiment, django_assert_num_queries
):
    run = create_run(experiment=experiment)
    forget_notes()  # an earlier test's note of an experiment with the same id would skip the mark

    with django_assert_num_queries(LOG_METRIC_QUERIES):
        log_metric(run=run, point=MetricPoint("acc", 0.5, T0, 0))

    assert registered(experiment) == {("metric", "acc")}


def test_log_batch_registers_its_params_and_tags_in_one_statement(experiment, django_assert_num_queries):
    run = create_run(experiment=experiment)
    batch = Batch(
        params=[(f"p{i}", "1") for i in range(50)],
        tags=[(f"t{i}", "1") for i in range(50)],
        metrics=[MetricPoint(f"m{i % 10}", i, T0 + i, i) for i in range(900)],
    )
    # The savepoint, the params' insert (all new: no value held to read back), the tags' upsert,
    # the keys of params and tags (one statement), the points with their keys and summaries (PostgreSQL, one statement;
    # on SQLite the keys in a statement of their own, the points in one statement that goes to
    # sqlite3 itself, past Django's count, and the summaries in one `executemany`), the change
    # mark, the savepoint's release.
    expected = 7 if connection.vendor == "postgresql" else 8
    forget_notes()  # an earlier test's note of an experiment with the same id would skip the mark

    with django_assert_num_queries(expected):
        log_batch(run=run, batch=batch)

    assert len(registered(experiment)) == 110


# --- The migration's fill ------------------------------------------------------------------------


class _Editor:
    """What the migration's RunPython step uses of a schema editor."""

    connection = connection

    def execute(self, sql: str, params=()) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def test_the_migration_fills_each_registry_with_its_active_runs_keys(experiment, default_workspace):
    other = create_experiment(workspace=default_workspace, name="other")
    run_with(experiment, params=["lr"], metrics=["acc"], tags=["team"])
    delete_run(run=run_with(experiment, params=["gone"]))
    create_run(experiment=experiment, tags=[("mlflow.user", "ann")])
    run_with(other, params=["depth"])
    ExperimentKey.objects.all().delete()

    importlib.import_module("tracking.migrations.0015_experiment_keys").fill(None, _Editor())

    assert registered(experiment) == {("param", "lr"), ("metric", "acc"), ("tag", "team")} == held(experiment)
    assert registered(other) == {("param", "depth")}
