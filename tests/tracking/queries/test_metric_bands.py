"""Runs grouped into bands: each group's mean, standard deviation, min and max slot by slot, with
every run's line carried between its own points and not beyond them."""

from __future__ import annotations

import math

import pytest

from tracking.queries.metric_bands import group_bands, group_order
from tracking.queries.metric_charts import Bucket, Series


def series(run_id: str, points: dict[int, float | None]) -> Series:
    """A run's history on a grid of width 1: slot = step."""
    return Series(
        run_id,
        "loss",
        "step",
        len(points),
        buckets=[
            Bucket(
                x_first=step, x_last=step, first=value, last=value, low=value, high=value, count=1, slot=step
            )
            for step, value in sorted(points.items())
        ],
    )


def test_each_slot_has_the_mean_std_min_and_max_of_the_groups_runs():
    runs = [series("a", {0: 1.0, 1: 2.0}), series("b", {0: 3.0, 1: 6.0}), series("c", {0: 10.0, 1: 10.0})]

    low_lr, high_lr = group_bands(runs, {"a": "0.1", "b": "0.1", "c": "1"})

    assert (low_lr.value, low_lr.run_ids) == ("0.1", ["a", "b"])
    assert low_lr.x == [0, 1]
    assert low_lr.mean == [2.0, 4.0]
    assert low_lr.std == [1.0, 2.0]  # of the runs present, ddof 0
    assert (low_lr.low, low_lr.high, low_lr.present) == ([1.0, 2.0], [3.0, 6.0], [2, 2])
    assert (high_lr.value, high_lr.mean, high_lr.std) == ("1", [10.0, 10.0], [0.0, 0.0])


def test_a_run_logged_less_often_is_carried_in_a_straight_line_between_its_points():
    every_step = series("a", {0: 0.0, 1: 0.0, 2: 0.0, 3: 0.0, 4: 0.0})
    every_fourth = series("b", {0: 0.0, 4: 8.0})

    (band,) = group_bands([every_step, every_fourth], {"a": "x", "b": "x"})

    assert band.present == [2, 2, 2, 2, 2]
    assert band.mean == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_a_run_that_stopped_early_leaves_the_mean_where_it_ends():
    long = series("a", {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0})
    short = series("b", {0: 3.0, 1: 3.0})

    (band,) = group_bands([long, short], {"a": "x", "b": "x"})

    assert band.mean == [2.0, 2.0, 1.0, 1.0]
    assert band.present == [2, 2, 1, 1]


def test_nan_and_infinite_points_are_left_out_and_bridged():
    run = series("a", {0: 1.0, 1: None, 2: math.inf, 3: 4.0})

    (band,) = group_bands([run], {"a": "x"})

    assert band.mean == [1.0, 2.0, 3.0, 4.0]


def test_a_run_without_a_finite_point_is_counted_but_draws_nothing():
    (band,) = group_bands([series("a", {0: None}), series("b", {0: 5.0})], {"a": "x", "b": "x"})

    assert band.run_ids == ["a", "b"]
    assert (band.mean, band.present) == ([5.0], [1])


def test_groups_come_in_natural_order_numbers_by_value_and_runs_without_the_key_last():
    runs = [series(name, {0: 1.0}) for name in "abcde"]

    bands = group_bands(runs, {"a": "10", "b": None, "c": "2", "d": "adam", "e": "0.5"})

    assert [band.value for band in bands] == ["0.5", "2", "10", "adam", None]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_values_that_read_as_non_finite_numbers_sort_as_text(value):
    assert group_order(value)[0] == 1


def test_wide_buckets_line_up_by_slot_not_by_x():
    # Two runs on a grid of width 10: their buckets' last steps differ, their slots agree.
    a = Series("a", "loss", "step", 20, buckets=[Bucket(0, 9, 1.0, 1.0, 1.0, 1.0, 10, slot=0)])
    b = Series("b", "loss", "step", 20, buckets=[Bucket(0, 7, 3.0, 3.0, 3.0, 3.0, 8, slot=0)])

    (band,) = group_bands([a, b], {"a": "x", "b": "x"})

    assert (band.x, band.mean, band.present) == ([8.0], [2.0], [2])
