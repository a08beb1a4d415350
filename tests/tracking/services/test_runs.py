"""Ending a run: a worker is asked to draw its long metric charts ahead of the first visit."""

from __future__ import annotations

import pytest

import tracking.tasks
from tracking.queries import metric_charts
from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint, record_points
from tracking.services.runs import create_run, update_run


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    """The run ids the chart-drawing task was sent for; points count as "long" from 100."""
    monkeypatch.setattr(metric_charts, "WARM_MIN_POINTS", 100)
    calls: list[int] = []
    monkeypatch.setattr(tracking.tasks.warm_metric_charts, "delay", calls.append)
    return calls


@pytest.fixture
def run(default_workspace):
    return create_run(experiment=create_experiment(workspace=default_workspace, name="ending"))


def log(run, points: int) -> None:
    record_points(run, [MetricPoint("loss", 1.0 / (1 + i), 1_700_000_000_000 + i, i) for i in range(points)])


@pytest.mark.parametrize("status", ["FINISHED", "FAILED", "KILLED"])
def test_a_run_that_ends_with_a_long_history_gets_its_charts_drawn(
    run, sent, status, django_capture_on_commit_callbacks
):
    log(run, 150)

    with django_capture_on_commit_callbacks(execute=True):
        update_run(run=run, status=status)

    assert sent == [run.pk]


def test_a_run_of_short_histories_sends_nothing(run, sent, django_capture_on_commit_callbacks):
    log(run, 20)

    with django_capture_on_commit_callbacks(execute=True):
        update_run(run=run, status="FINISHED")

    assert sent == []


def test_a_run_that_is_still_going_or_had_ended_already_sends_nothing(
    run, sent, django_capture_on_commit_callbacks
):
    log(run, 150)

    with django_capture_on_commit_callbacks(execute=True):
        update_run(run=run, status="RUNNING")
        update_run(run=run, run_name="renamed")
        update_run(run=run, status="FINISHED")
        update_run(run=run, status="FINISHED")  # the client's retry, or set_terminated twice

    assert sent == [run.pk]


def test_a_broker_that_is_down_does_not_fail_the_call(run, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(metric_charts, "WARM_MIN_POINTS", 100)

    def refuse(run_pk):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tracking.tasks.warm_metric_charts, "delay", refuse)
    log(run, 150)

    with django_capture_on_commit_callbacks(execute=True):
        ended = update_run(run=run, status="FINISHED")

    assert ended.status == "FINISHED"
