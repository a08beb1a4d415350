"""The tracking app's Celery tasks, called as a worker calls them."""

from __future__ import annotations

from tracking.queries import metric_charts
from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint, record_points
from tracking.services.runs import create_run
from tracking.tasks import warm_metric_charts


def test_drawing_charts_ahead_fills_the_cache_for_both_axes(
    default_workspace, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(metric_charts, "WARM_MIN_POINTS", 100)
    run = create_run(experiment=create_experiment(workspace=default_workspace, name="warm"))
    record_points(run, [MetricPoint("loss", float(i % 5), 1_700_000_000_000 + i, i) for i in range(200)])

    warm_metric_charts(run.pk)

    for axis in ("step", "time"):
        with django_assert_max_num_queries(1):
            assert metric_charts.bucketed_history(run, "loss", axis=axis).shown == 200


def test_a_run_deleted_for_good_meanwhile_is_nothing_to_draw(db):
    warm_metric_charts(987_654)
