"""The periodic pass: each kind of rule fires once per run, from what happened since it began
watching, in a fixed number of queries, and two passes at once never fire twice."""

from __future__ import annotations

import math
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tracking.alerts.evaluation import evaluate_rules
from tracking.alerts.rules import RuleSpec, create_rule, set_rule_enabled
from tracking.models import Alert, AlertRule, Run
from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint, record_points
from tracking.services.runs import create_run, delete_run, update_run
from tracking.times import datetime_to_ms


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="watched")


def threshold_rule(experiment, comparison=">", threshold=5.0, **extra) -> AlertRule:
    spec = RuleSpec(name="loss too high", kind="metric_threshold", metric_key="loss", comparison=comparison,
                    threshold=threshold, **extra)  # fmt: skip
    return create_rule(experiment=experiment, spec=spec, created_by="tester")


def failed_rule(experiment) -> AlertRule:
    return create_rule(
        experiment=experiment, spec=RuleSpec(name="failures", kind="run_failed"), created_by=""
    )


def stalled_rule(experiment, minutes=10) -> AlertRule:
    spec = RuleSpec(name="stalls", kind="run_stalled", stall_minutes=minutes)
    return create_rule(experiment=experiment, spec=spec, created_by="")


def log(run, *values: float, key: str = "loss") -> None:
    now = datetime_to_ms(timezone.now())
    record_points(run, [MetricPoint(key, value, now + i, i) for i, value in enumerate(values)])


def fired(rule) -> list[tuple[str, str]]:
    return sorted((a.run.uuid, a.message) for a in Alert.objects.filter(rule=rule).select_related("run"))


def test_it_fires_once_when_a_metric_goes_above_the_threshold(experiment):
    rule = threshold_rule(experiment)
    run, calm = create_run(experiment=experiment, run_name="hot"), create_run(experiment=experiment)
    log(run, 1.0, 7.5, 6.0)
    log(calm, 1.0, 5.0)
    assert evaluate_rules() == 1
    assert fired(rule) == [(run.uuid, "loss = 7.5 > 5 in run hot")]
    log(run, 9.0)
    assert evaluate_rules() == 0
    assert Alert.objects.get(rule=rule).value == 7.5


@pytest.mark.parametrize(
    ("comparison", "values", "fires"),
    [
        ("<", [0.5], True),
        ("<", [5.0], False),
        ("<=", [5.0], True),
        (">=", [5.0], True),
        (">", [5.0], False),
        (">", [math.inf], True),
        ("<", [-math.inf], True),
        (">", [math.nan], False),
        ("<", [math.nan], False),
    ],
)
def test_it_compares_as_the_rule_says_and_nan_never_crosses(experiment, comparison, values, fires):
    rule = threshold_rule(experiment, comparison=comparison)
    log(create_run(experiment=experiment), *values)
    evaluate_rules()
    assert Alert.objects.filter(rule=rule).exists() is fires


def test_it_ignores_points_logged_before_the_rule_and_other_metrics_and_experiments(
    experiment, default_workspace
):
    run = create_run(experiment=experiment)
    log(run, 50.0)
    rule = threshold_rule(experiment)
    log(run, 60.0, key="other")
    log(create_run(experiment=create_experiment(workspace=default_workspace, name="elsewhere")), 99.0)
    assert evaluate_rules() == 0
    log(run, 1.0)
    assert evaluate_rules() == 0 and not Alert.objects.filter(rule=rule).exists()


def test_its_watermark_moves_on_so_a_pass_reads_only_new_points(experiment):
    rule = threshold_rule(experiment)
    log(create_run(experiment=experiment), 1.0, 2.0)
    evaluate_rules()
    rule.refresh_from_db()
    top = rule.checked_metric_id
    assert top > rule.watch_from_metric_id and rule.checked_at is not None
    run = create_run(experiment=experiment)
    log(run, 8.0)
    evaluate_rules()
    rule.refresh_from_db()
    assert rule.checked_metric_id > top
    assert fired(rule) == [(run.uuid, f"loss = 8 > 5 in run {run.name}")]


def test_a_point_committed_late_below_the_watermark_still_fires(experiment):
    """PostgreSQL may commit a point after a pass has read past its id."""
    rule = threshold_rule(experiment)
    run = create_run(experiment=experiment)
    log(run, 8.0)
    AlertRule.objects.filter(pk=rule.pk).update(checked_metric_id=rule.checked_metric_id + 5)
    evaluate_rules()
    assert len(fired(rule)) == 1


def test_it_fires_for_failed_and_killed_runs_but_not_finished_or_running_ones(experiment):
    rule = failed_rule(experiment)
    runs = {status: create_run(experiment=experiment, run_name=status.lower()) for status in
            ("FAILED", "KILLED", "FINISHED", "RUNNING")}  # fmt: skip
    for status, run in runs.items():
        if status != "RUNNING":
            update_run(run=run, status=status, end_time=timezone.now())
    assert evaluate_rules() == 2
    assert fired(rule) == sorted(
        [(runs["FAILED"].uuid, "run failed ended FAILED"), (runs["KILLED"].uuid, "run killed ended KILLED")]
    )


def test_a_run_that_fails_again_after_a_restart_fires_once(experiment):
    rule = failed_rule(experiment)
    run = create_run(experiment=experiment)
    update_run(run=run, status="FAILED", end_time=timezone.now())
    evaluate_rules()
    update_run(run=run, status="RUNNING")
    evaluate_rules()
    update_run(run=run, status="KILLED", end_time=timezone.now())
    evaluate_rules()
    assert Alert.objects.filter(rule=rule).count() == 1


def test_runs_that_failed_before_the_rule_existed_stay_quiet(experiment):
    run = create_run(experiment=experiment)
    update_run(run=run, status="FAILED", end_time=timezone.now() - timedelta(days=2))
    rule = failed_rule(experiment)
    assert evaluate_rules() == 0 and not Alert.objects.filter(rule=rule).exists()


def test_deleted_runs_and_disabled_rules_do_not_fire(experiment):
    rule = failed_rule(experiment)
    gone = create_run(experiment=experiment)
    update_run(run=gone, status="FAILED", end_time=timezone.now())
    delete_run(run=gone)
    assert evaluate_rules() == 0
    set_rule_enabled(rule=rule, enabled=False)
    run = create_run(experiment=experiment)
    update_run(run=run, status="FAILED", end_time=timezone.now())
    assert evaluate_rules() == 0


def test_a_rule_enabled_again_watches_from_then_on(experiment):
    rule = threshold_rule(experiment)
    set_rule_enabled(rule=rule, enabled=False)
    run = create_run(experiment=experiment)
    log(run, 100.0)
    set_rule_enabled(rule=rule, enabled=True)
    assert evaluate_rules() == 0
    log(run, 101.0)
    assert evaluate_rules() == 1


def test_a_running_run_that_logs_nothing_for_the_minutes_fires_once(experiment):
    rule = stalled_rule(experiment, minutes=10)
    now = timezone.now()
    quiet = create_run(experiment=experiment, run_name="quiet", start_time=now - timedelta(minutes=3))
    busy = create_run(experiment=experiment, run_name="busy", start_time=now - timedelta(minutes=3))
    assert evaluate_rules(now=now) == 0
    record_points(busy, [MetricPoint("loss", 1.0, datetime_to_ms(now + timedelta(minutes=5)), 0)])
    assert evaluate_rules(now=now + timedelta(minutes=6)) == 0
    assert evaluate_rules(now=now + timedelta(minutes=8)) == 1  # quiet: 11 minutes; busy: 3
    assert fired(rule) == [(quiet.uuid, "run quiet has logged no metric for 10 minutes")]
    assert evaluate_rules(now=now + timedelta(minutes=16)) == 1  # busy has gone quiet too, by now
    assert evaluate_rules(now=now + timedelta(minutes=60)) == 0


def test_a_stalled_run_that_ended_or_went_silent_long_before_the_rule_does_not_fire(experiment):
    now = timezone.now()
    create_run(experiment=experiment, start_time=now - timedelta(days=30))  # abandoned long ago
    ended = create_run(experiment=experiment, start_time=now - timedelta(minutes=1))
    update_run(run=ended, status="FINISHED", end_time=now)
    stalled_rule(experiment, minutes=5)
    assert evaluate_rules(now=now + timedelta(hours=1)) == 0


def test_two_passes_at_once_fire_each_alert_once(experiment, transactional_db):
    rule = failed_rule(experiment)
    for _ in range(5):
        update_run(run=create_run(experiment=experiment), status="FAILED", end_time=timezone.now())
    barrier = threading.Barrier(2)

    def evaluate():
        barrier.wait()
        try:
            evaluate_rules()
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Alert.objects.filter(rule=rule).count() == 5


def test_a_pass_takes_the_same_number_of_queries_for_many_runs(experiment, django_assert_max_num_queries):
    threshold_rule(experiment)
    failed_rule(experiment)
    stalled_rule(experiment)
    for _ in range(30):
        run = create_run(experiment=experiment)
        log(run, 10.0)
        update_run(run=run, status="FAILED", end_time=timezone.now())
    with django_assert_max_num_queries(9):
        assert evaluate_rules() == 60
    assert Run.objects.count() == 30


def test_deleting_the_experiment_for_good_takes_its_rules_and_alerts(experiment, settings, tmp_path):
    from tracking.deletion.purge import carry_out
    from tracking.deletion.scope import resolve
    from tracking.models import Deletion
    from tracking.services.deletions import request_deletion

    settings.ARTIFACT_ROOT = tmp_path
    rule = failed_rule(experiment)
    update_run(run=create_run(experiment=experiment), status="FAILED", end_time=timezone.now())
    evaluate_rules()
    assert Alert.objects.filter(rule=rule).count() == 1
    row = request_deletion(resolve(Deletion.EXPERIMENT, experiment.pk), confirmation="watched", enqueue=False)
    carry_out(row.pk, worker="test")
    assert Deletion.objects.get(pk=row.pk).status == "SUCCEEDED"
    assert not AlertRule.objects.exists() and not Alert.objects.exists()
