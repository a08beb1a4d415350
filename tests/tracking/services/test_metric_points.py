"""Metric points and the per-key summary: latest by step, then timestamp, then value; min; max; count."""

from __future__ import annotations

import math

import pytest

from tracking.models import Metric, MetricSummary
from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint, record_points


@pytest.fixture
def run(default_workspace):
    from tracking.services.runs import create_run

    return create_run(experiment=create_experiment(workspace=default_workspace, name="points"))


def summary(run, key="m") -> tuple:
    row = MetricSummary.objects.get(run=run, key=key)
    return row.value, row.step, row.timestamp, row.min_value, row.max_value, row.count


def test_the_summary_follows_the_highest_step_across_writes(run):
    record_points(run, [MetricPoint("m", 5.0, 100, 2)])
    record_points(run, [MetricPoint("m", 9.0, 200, 1)])
    assert summary(run) == (5.0, 2, 100, 5.0, 9.0, 2)
    record_points(run, [MetricPoint("m", 1.0, 50, 3), MetricPoint("m", -4.0, 60, 0)])
    assert summary(run) == (1.0, 3, 50, -4.0, 9.0, 4)


def test_at_equal_steps_the_later_timestamp_then_the_higher_value_wins(run):
    record_points(run, [MetricPoint("m", 1.0, 100, 0)])
    record_points(run, [MetricPoint("m", 0.5, 101, 0)])
    assert summary(run)[0] == 0.5
    record_points(run, [MetricPoint("m", 0.7, 101, 0)])
    assert summary(run)[0] == 0.7


def test_nan_is_stored_as_null_and_left_out_of_min_and_max(run):
    record_points(run, [MetricPoint("m", 2.0, 0, 0), MetricPoint("m", math.nan, 1, 1)])
    value, step, _, low, high, count = summary(run)
    assert (value, step, low, high, count) == (None, 1, 2.0, 2.0, 2)
    assert list(Metric.objects.filter(run=run).order_by("step").values_list("value", flat=True)) == [
        2.0,
        None,
    ]


def test_infinities_are_kept(run):
    record_points(run, [MetricPoint("m", math.inf, 0, 0), MetricPoint("m", -math.inf, 0, 1)])
    value, _, _, low, high, _ = summary(run)
    assert (value, low, high) == (-math.inf, -math.inf, math.inf)


def test_integer_and_float_values_mix_in_one_batch(run):
    record_points(run, [MetricPoint("m", 1, 0, 0), MetricPoint("m", 2.5, 0, 1)])
    assert sorted(Metric.objects.filter(run=run).values_list("value", flat=True)) == [1.0, 2.5]


def test_keys_of_integer_values_and_keys_of_float_values_mix_in_one_batch(run):
    """PostgreSQL takes a batch's summaries as typed arrays: an int min beside a float one is
    one float column, not a type error."""
    record_points(run, [MetricPoint("epoch", 3, 0, 0), MetricPoint("m", 0.5, 0, 0)])
    assert summary(run, "epoch") == (3.0, 0, 0, 3.0, 3.0, 1)
    assert summary(run, "m") == (0.5, 0, 0, 0.5, 0.5, 1)


def test_every_value_is_stored_to_the_bit_whatever_its_key_and_magnitude(run):
    """PostgreSQL receives a batch's values as array text (repr): it must read back each double
    exactly, NaN as NULL, infinities included (SQLite keeps -0.0 as 0.0, equal to it)."""
    import random
    import struct

    rng = random.Random(7)
    values = [struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0] for _ in range(600)]
    values += [5e-324, -0.0, 1.7976931348623157e308, 0.1, 1 / 3, math.inf, -math.inf, math.nan, 7]
    points = [
        MetricPoint(("loss", "acc", "NULL", "a b")[i % 4], v, 1_000 + i, i) for i, v in enumerate(values)
    ]

    record_points(run, points)

    stored = dict(Metric.objects.filter(run=run).values_list("step", "value"))
    for point in points:
        expected = None if math.isnan(point.value) else float(point.value)
        got = stored[point.step]
        assert (got is None and expected is None) or got == expected, point  # == on doubles is exact
    keys = dict(Metric.objects.filter(run=run).values_list("step", "key"))
    assert all(keys[point.step] == point.key for point in points)


# --- Points logged with a model id ---------------------------------------------------------------


def test_a_point_logged_with_another_workspace_s_model_id_stays_the_run_s(default_workspace, make_workspace):
    from tracking.models import LoggedModelMetric, Metric
    from tracking.services.experiments import create_experiment
    from tracking.services.logged_models import create_logged_model
    from tracking.services.runs import create_run, log_metric

    other = make_workspace("other-team")
    theirs = create_logged_model(experiment=create_experiment(workspace=other, name="theirs"), name="m")
    ours = create_logged_model(
        experiment=create_experiment(workspace=default_workspace, name="ours"), name="m"
    )
    run = create_run(experiment=create_experiment(workspace=default_workspace, name="training"))

    log_metric(run=run, point=MetricPoint("acc", 0.9, 1, 0, model_id=theirs.model_id))
    log_metric(run=run, point=MetricPoint("acc", 0.95, 2, 1, model_id=ours.model_id))

    assert Metric.objects.filter(run=run, key="acc").count() == 2
    assert not LoggedModelMetric.objects.filter(model=theirs).exists()
    assert list(LoggedModelMetric.objects.filter(model=ours).values_list("value", flat=True)) == [0.95]


# --- The run the points belong to ----------------------------------------------------------------
# Points have no foreign key in the database: their INSERT takes the run's row itself.


def test_points_for_a_run_deleted_since_it_was_looked_up_are_refused_and_nothing_is_stored(run):
    from tracking.errors import ResourceDoesNotExist
    from tracking.models import Run

    pk = run.pk
    Run.objects.filter(pk=pk).delete()

    with pytest.raises(ResourceDoesNotExist, match=f"Run with id={run.uuid} not found"):
        record_points(run, [MetricPoint("m", 1.0, 0, 0), MetricPoint("n", 2.0, 0, 0)])

    assert not Metric.objects.filter(run_id=pk).exists()
    assert not MetricSummary.objects.filter(run_id=pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_batch_sent_again_outside_a_transaction_stores_each_point_once(run):
    """PostgreSQL tries a batch without ON CONFLICT first, outside a transaction: a point stored
    already fails that attempt whole, and the batch goes again with the clause."""
    first = [MetricPoint("m", float(step), 1_000 + step, step) for step in range(10)]
    record_points(run, first)
    record_points(run, first)
    again_and_more = first[5:] + [MetricPoint("m", float(step), 1_000 + step, step) for step in range(10, 15)]
    record_points(run, again_and_more)

    assert sorted(Metric.objects.filter(run=run).values_list("step", flat=True)) == list(range(15))
    assert summary(run) == (14.0, 14, 1_014, 0.0, 14.0, 15)


@pytest.mark.django_db(transaction=True)
def test_points_logged_while_their_run_is_being_deleted_wait_for_it_and_are_not_left_behind(run):
    """A deletion locks its runs before it deletes their points (then the runs): points logged
    meanwhile wait for it, then find no run. Without the lock they would be stored between the
    two DELETEs and outlive their run."""
    import threading
    import time

    from django.db import connection, transaction

    from tracking.deletion.purge import lock_runs
    from tracking.errors import ResourceDoesNotExist
    from tracking.models import Run

    if not connection.features.has_select_for_update:
        pytest.skip("SQLite runs one writer at a time: a deletion cannot interleave with the INSERT")
    record_points(run, [MetricPoint("m", 0.0, 0, 0)])
    points_deleted = threading.Event()

    def delete_the_run() -> None:
        try:
            with transaction.atomic():
                lock_runs(Run.objects.filter(pk=run.pk))
                Metric.objects.filter(run_id=run.pk).delete()
                points_deleted.set()
                time.sleep(0.5)
                MetricSummary.objects.filter(run_id=run.pk).delete()
                Run.objects.filter(pk=run.pk).delete()
        finally:
            connection.close()

    deleter = threading.Thread(target=delete_the_run)
    deleter.start()
    assert points_deleted.wait(10)
    started = time.monotonic()
    with pytest.raises(ResourceDoesNotExist):
        record_points(run, [MetricPoint("m", 1.0, 1, 1)])
    waited = time.monotonic() - started
    deleter.join()

    assert waited > 0.2
    assert not Metric.objects.filter(run_id=run.pk).exists()
