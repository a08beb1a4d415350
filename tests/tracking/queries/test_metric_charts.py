"""Bucketing metric histories for charts: min and max survive, first and last are exact,
NaN and infinities are counted, step and time axes, zoomed ranges, a fixed number of queries.

Runs on SQLite and on PostgreSQL (set DATABASE_URL): the SQL is the same but for one clause.
"""

from __future__ import annotations

import math
import random

import pytest

from tracking.errors import InvalidParameterValue
from tracking.queries import metric_charts
from tracking.queries.metric_charts import bucketed_histories, bucketed_history
from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint, record_points
from tracking.services.runs import create_run

T0 = 1_700_000_000_000


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="charts")


@pytest.fixture
def make_run(experiment):
    def make(name: str = "", points: list[MetricPoint] = ()):
        run = create_run(experiment=experiment, run_name=name)
        record_points(run, list(points))
        return run

    return make


def history(values, key: str = "loss", *, step0: int = 0, every_ms: int = 1000) -> list[MetricPoint]:
    return [MetricPoint(key, value, T0 + i * every_ms, step0 + i) for i, value in enumerate(values)]


def test_it_draws_a_short_history_point_by_point(make_run):
    run = make_run(points=history([3.0, 2.0, 2.5]))

    series = bucketed_history(run, "loss")

    assert not series.sampled
    assert [(b.x_first, b.first, b.low, b.high, b.count) for b in series.buckets] == [
        (0, 3.0, 3.0, 3.0, 1),
        (1, 2.0, 2.0, 2.0, 1),
        (2, 2.5, 2.5, 2.5, 1),
    ]
    assert series.total == series.shown == 3


def test_it_keeps_a_one_point_spike_in_a_long_history_as_its_buckets_max(make_run):
    values = [1.0 - i / 20_000 for i in range(10_000)]
    values[6_543] = 50.0
    values[8_001] = -7.0
    run = make_run(points=history(values))

    series = bucketed_history(run, "loss", points=100)

    assert series.sampled
    assert len(series.buckets) == 100
    assert sum(b.count for b in series.buckets) == 10_000
    spike = next(b for b in series.buckets if b.x_first <= 6_543 <= b.x_last)
    assert spike.high == 50.0
    dip = next(b for b in series.buckets if b.x_first <= 8_001 <= b.x_last)
    assert dip.low == -7.0
    assert max(b.high for b in series.buckets) == 50.0
    assert min(b.low for b in series.buckets) == -7.0


def test_first_and_last_are_the_values_at_each_buckets_edges(make_run):
    rng = random.Random(3)
    values = [rng.random() for _ in range(1_000)]
    run = make_run(points=history(values))

    series = bucketed_history(run, "loss", points=10)

    for bucket in series.buckets:
        assert bucket.first == values[bucket.x_first]
        assert bucket.last == values[bucket.x_last]
        inside = values[bucket.x_first : bucket.x_last + 1]
        assert (bucket.low, bucket.high, bucket.count) == (min(inside), max(inside), len(inside))


def test_first_and_last_stay_exact_when_steps_do_not_grow_with_time(make_run):
    # Step order and time order disagree: the first point of a bucket by step is not its earliest.
    rng = random.Random(7)
    steps = list(range(600))
    rng.shuffle(steps)
    values = {step: float(step % 97) for step in steps}
    points = [MetricPoint("loss", values[step], T0 + i, step) for i, step in enumerate(steps)]
    run = make_run(points=points)

    series = bucketed_history(run, "loss", points=20)

    for bucket in series.buckets:
        assert bucket.first == values[bucket.x_first]
        assert bucket.last == values[bucket.x_last]


def test_a_step_logged_twice_gives_its_earliest_value_first_and_its_latest_last(make_run):
    points = [MetricPoint("loss", float(i), T0 + i, i) for i in range(100)]
    points += [MetricPoint("loss", -1.0, T0 - 5, 0), MetricPoint("loss", 500.0, T0 + 1_000, 99)]
    run = make_run(points=points)

    series = bucketed_history(run, "loss", points=10)

    assert series.buckets[0].first == -1.0
    assert series.buckets[-1].last == 500.0


def test_nan_points_are_counted_and_left_out_of_min_and_max(make_run):
    values = [1.0, math.nan, 3.0, math.nan] * 50 + [math.nan] * 20
    run = make_run(points=history(values))

    series = bucketed_history(run, "loss", points=11)

    assert series.nans == 120
    for bucket in series.buckets:
        assert bucket.low is None or not math.isnan(bucket.low)
    assert min(b.low for b in series.buckets if b.low is not None) == 1.0
    assert max(b.high for b in series.buckets if b.high is not None) == 3.0
    only_nan = series.buckets[-1]
    assert (only_nan.low, only_nan.high, only_nan.first, only_nan.last) == (None, None, None, None)


def test_infinities_are_counted_and_min_max_stay_finite(make_run):
    values = [float(i) for i in range(300)]
    values[10], values[150], values[299] = math.inf, -math.inf, math.inf
    run = make_run(points=history(values))

    series = bucketed_history(run, "loss", points=30)

    assert series.infs == 3
    assert sum(b.pos_infs for b in series.buckets) == 2
    assert sum(b.neg_infs for b in series.buckets) == 1
    for bucket in series.buckets:
        assert bucket.low is not None and math.isfinite(bucket.low)
        assert bucket.high is not None and math.isfinite(bucket.high)
    assert series.buckets[-1].last == math.inf
    assert series.buckets[-1].high == 298.0


def test_a_single_infinite_point_is_its_own_first_and_last(make_run):
    run = make_run(points=history([1.0, -math.inf, 2.0]))

    series = bucketed_history(run, "loss")

    middle = series.buckets[1]
    assert (middle.first, middle.last, middle.low, middle.high, middle.neg_infs) == (
        -math.inf,
        -math.inf,
        None,
        None,
        1,
    )


def test_the_time_axis_counts_milliseconds_from_the_runs_first_point(make_run):
    # Ten points a second apart, then a pause, then ten more: time buckets show the gap.
    points = [MetricPoint("loss", float(i), T0 + i * 1000, i) for i in range(10)]
    points += [MetricPoint("loss", float(i), T0 + 100_000 + (i - 10) * 1000, i) for i in range(10, 20)]
    run = make_run(points=points)

    series = bucketed_history(run, "loss", axis="time", points=200)

    assert series.origin == T0
    assert series.buckets[0].x_first == 0
    assert series.buckets[-1].x_last == 109_000
    assert next(b.x_first for b in series.buckets if b.x_first >= 100_000) == 100_000
    assert sum(b.count for b in series.buckets) == 20
    assert all(b.count == 1 for b in series.buckets)


def test_the_time_axis_keeps_min_and_max_too(make_run):
    values = [0.5] * 5_000
    values[1_234] = 9.0
    run = make_run(points=history(values, every_ms=10))

    series = bucketed_history(run, "loss", axis="time", points=50)

    assert series.sampled
    assert len(series.buckets) == 50
    spike = next(b for b in series.buckets if b.x_first <= 12_340 <= b.x_last)
    assert spike.high == 9.0


def test_steps_before_the_first_logged_one_get_the_grid_laid_from_the_true_start(make_run):
    # The earliest point is at step 1,000; later points go back to negative steps.
    points = [MetricPoint("loss", 1.0, T0, 1_000)]
    points += [
        MetricPoint("loss", float(step), T0 + 10 + i, step) for i, step in enumerate(range(-500, 1_000))
    ]
    run = make_run(points=points)

    series = bucketed_history(run, "loss", points=50)

    assert series.buckets[0].x_first == -500
    assert series.buckets[0].first == -500.0
    assert len(series.buckets) <= 50
    assert sum(b.count for b in series.buckets) == 1_501


def test_a_range_is_rebucketed_at_full_resolution(make_run):
    run = make_run(points=history([float(i % 7) for i in range(10_000)]))

    zoomed = bucketed_history(run, "loss", points=100, x_from=5_000, x_to=5_049)

    assert not zoomed.sampled
    assert [b.x_first for b in zoomed.buckets] == list(range(5_000, 5_050))
    assert zoomed.total == 10_000
    assert zoomed.shown == 50


def test_a_time_range_is_relative_to_each_runs_first_point(make_run):
    run = make_run(points=history([float(i) for i in range(100)], every_ms=1000))

    zoomed = bucketed_history(run, "loss", axis="time", x_from=10_000, x_to=19_999)

    assert [b.first for b in zoomed.buckets] == [float(i) for i in range(10, 20)]


def test_several_runs_share_one_grid_and_keep_their_order(make_run):
    short = make_run("short", history([1.0] * 100))
    long = make_run("long", history([2.0] * 1_000))
    other = make_run("other", history([3.0] * 10, key="accuracy"))

    found = bucketed_histories([long, other, short], "loss", points=50)

    assert [series.run_id for series in found] == [long.uuid, short.uuid]
    widths = {b.x_last - b.x_first for series in found for b in series.buckets}
    assert widths == {19}  # 1,000 steps / 50 buckets, for both runs
    assert sum(b.count for b in found[1].buckets) == 100


def test_each_bucket_names_its_slot_on_the_shared_grid(make_run):
    every_step = make_run("every step", history([1.0] * 100))
    every_tenth = make_run("every tenth", [MetricPoint("loss", 2.0, T0 + i, i) for i in range(0, 100, 10)])

    dense, sparse = bucketed_histories([every_step, every_tenth], "loss", points=20)

    assert [b.slot for b in dense.buckets] == list(range(20))  # 100 steps / 20 slots of 5
    assert [b.slot for b in sparse.buckets] == list(range(0, 20, 2))
    assert all(b.x_first // 5 == b.slot for b in dense.buckets + sparse.buckets)


def test_an_unknown_key_gives_an_empty_series(make_run):
    run = make_run(points=history([1.0]))

    series = bucketed_history(run, "missing")

    assert series.buckets == [] and series.total == 0


@pytest.mark.parametrize(("axis", "points"), [("wall", 100), ("step", 5), ("step", 100_000)])
def test_it_refuses_an_unknown_axis_or_a_silly_number_of_points(make_run, axis, points):
    run = make_run(points=history([1.0]))

    with pytest.raises(InvalidParameterValue):
        bucketed_history(run, "loss", axis=axis, points=points)


@pytest.mark.parametrize("runs", [1, 20])
def test_it_costs_the_same_few_queries_for_1_or_20_runs(make_run, runs, django_assert_max_num_queries):
    made = [make_run(f"r{i}", history([float(j % 13) for j in range(300)])) for i in range(runs)]

    with django_assert_max_num_queries(3):
        found = bucketed_histories(made, "loss", points=50)

    assert len(found) == runs
    assert all(series.sampled for series in found)


def test_a_cached_history_is_read_again_once_a_point_is_added(make_run, django_assert_max_num_queries):
    run = make_run(points=history([1.0, 2.0]))
    assert bucketed_history(run, "loss").shown == 2

    with django_assert_max_num_queries(1):
        assert bucketed_history(run, "loss").shown == 2
    record_points(run, [MetricPoint("loss", 3.0, T0 + 5_000, 2)])

    assert [b.first for b in bucketed_history(run, "loss").buckets] == [1.0, 2.0, 3.0]


# --- Drawn ahead -------------------------------------------------------------------------------


def test_long_histories_are_drawn_ahead_so_a_first_visit_costs_one_query(
    make_run, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(metric_charts, "WARM_MIN_POINTS", 100)
    run = make_run(points=history([float(i % 7) for i in range(150)]) + history([1.0, 2.0], "short"))

    assert metric_charts.has_long_histories(run)
    assert metric_charts.warm_charts(run) == ["loss"]

    for axis in ("step", "time"):
        with django_assert_max_num_queries(1):  # the summary; the buckets come from the cache
            assert bucketed_history(run, "loss", axis=axis).shown == 150


def test_a_run_of_short_histories_has_nothing_to_draw_ahead(make_run, monkeypatch):
    monkeypatch.setattr(metric_charts, "WARM_MIN_POINTS", 100)
    run = make_run(points=history([1.0, 2.0, 3.0]))

    assert not metric_charts.has_long_histories(run)
    assert metric_charts.warm_charts(run) == []
