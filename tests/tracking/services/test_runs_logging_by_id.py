"""Logging points to a run by its id (`log_metric_to`, `log_batch_to`), as the MLflow API does.

On PostgreSQL, outside a transaction, a run this process has looked up is not looked up again:
the points' one statement checks that it is still there and active. Whichever way a call takes,
it stores and answers the same, errors included."""

from __future__ import annotations

import pytest
from django.db import connection

from tracking import run_changes
from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import Metric, MetricSummary, Param, Run, RunTag
from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint
from tracking.services.runs import Batch, create_run, delete_run, log_batch_to, log_metric_to

pytestmark = pytest.mark.django_db(transaction=True)

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has no round trip to spare: the look-up stays"
)


@pytest.fixture(autouse=True)
def changes_noted_once(monkeypatch):
    """The experiment's runs are noted as changed at the first write only (a note is a second
    statement, in a transaction)."""
    monkeypatch.setattr(run_changes, "NOTE_EVERY", 3600.0)
    run_changes.forget_notes()
    yield
    run_changes.forget_notes()


@pytest.fixture
def run(default_workspace):
    return create_run(experiment=create_experiment(workspace=default_workspace, name="training"))


def point(step: int, key: str = "loss") -> MetricPoint:
    return MetricPoint(key, 1.0 / (1 + step), 1_700_000_000_000 + step, step)


def steps(run) -> list[int]:
    return sorted(Metric.objects.filter(run_id=run.pk).values_list("step", flat=True))


@on_postgresql
def test_a_seen_run_s_next_point_is_one_statement(default_workspace, run, django_assert_num_queries):
    log_metric_to(workspace=default_workspace, run_id=run.uuid, point=point(0))

    with django_assert_num_queries(1):
        log_metric_to(workspace=default_workspace, run_id=run.uuid, point=point(1))

    assert steps(run) == [0, 1]
    assert MetricSummary.objects.values_list("step", "count").get(run=run) == (1, 2)


@on_postgresql
def test_a_seen_run_s_batch_of_metrics_alone_is_one_statement(
    default_workspace, run, django_assert_num_queries
):
    log_metric_to(workspace=default_workspace, run_id=run.uuid, point=point(0))

    with django_assert_num_queries(1):
        log_batch_to(
            workspace=default_workspace, run_id=run.uuid, batch=Batch(metrics=[point(s) for s in range(1, 6)])
        )

    assert steps(run) == list(range(6))


def test_a_batch_with_params_and_tags_stores_all_of_it(default_workspace, run):
    log_metric_to(workspace=default_workspace, run_id=run.uuid, point=point(0))

    log_batch_to(
        workspace=default_workspace,
        run_id=run.uuid,
        batch=Batch(metrics=[point(1)], params=[("lr", "0.1")], tags=[("team", "vision")]),
    )

    assert steps(run) == [0, 1]
    assert Param.objects.values_list("key", "value").get(run=run) == ("lr", "0.1")
    assert RunTag.objects.filter(run=run, key="team", value="vision").exists()


def test_a_batch_sent_again_to_a_seen_run_stores_each_point_once(default_workspace, run):
    batch = Batch(metrics=[point(s) for s in range(5)])
    log_batch_to(workspace=default_workspace, run_id=run.uuid, batch=batch)
    log_batch_to(workspace=default_workspace, run_id=run.uuid, batch=batch)

    assert steps(run) == list(range(5))
    assert MetricSummary.objects.values_list("count", flat=True).get(run=run) == 5


def test_a_seen_run_deleted_since_refuses_points_as_any_deleted_run_does(default_workspace, run):
    log_metric_to(workspace=default_workspace, run_id=run.uuid, point=point(0))
    delete_run(run=run)

    with pytest.raises(InvalidParameterValue, match="must be in the 'active' state"):
        log_metric_to(workspace=default_workspace, run_id=run.uuid, point=point(1))
    with pytest.raises(InvalidParameterValue, match="must be in the 'active' state"):
        log_batch_to(workspace=default_workspace, run_id=run.uuid, batch=Batch(metrics=[point(2)]))

    assert steps(run) == [0]


def test_an_invalid_point_for_a_seen_run_deleted_since_gets_the_run_s_error_first(default_workspace, run):
    log_metric_to(workspace=default_workspace, run_id=run.uuid, point=point(0))
    delete_run(run=run)

    with pytest.raises(InvalidParameterValue, match="must be in the 'active' state"):
        log_metric_to(workspace=default_workspace, run_id=run.uuid, point=point(1, key="k" * 300))


def test_a_seen_run_deleted_for_good_since_is_not_found_and_gets_no_points(default_workspace, run):
    log_metric_to(workspace=default_workspace, run_id=run.uuid, point=point(0))
    Run.objects.filter(pk=run.pk).delete()

    with pytest.raises(ResourceDoesNotExist, match=f"Run with id={run.uuid} not found"):
        log_metric_to(workspace=default_workspace, run_id=run.uuid, point=point(1))

    assert not Metric.objects.filter(run_id=run.pk).exists()
    assert not MetricSummary.objects.filter(run_id=run.pk).exists()


def test_a_run_seen_in_its_workspace_is_not_found_from_another(default_workspace, make_workspace, run):
    log_metric_to(workspace=default_workspace, run_id=run.uuid, point=point(0))
    other = make_workspace("other-team")

    with pytest.raises(ResourceDoesNotExist):
        log_metric_to(workspace=other, run_id=run.uuid, point=point(1))
    with pytest.raises(ResourceDoesNotExist):
        log_batch_to(workspace=other, run_id=run.uuid, batch=Batch(metrics=[point(2)]))

    assert steps(run) == [0]
