"""Plotly figures from bucketed series: traces, bands, finite JSON, escaped names, parcoords."""

from __future__ import annotations

import json
import math

from studio import charts
from tracking.queries.metric_charts import Bucket, Series


def point(x: int, value: float | None) -> Bucket:
    finite = value if value is not None and math.isfinite(value) else None
    return Bucket(x, x, value, value, finite, finite, 1, nans=int(value is None))


def dense(
    x_first: int, x_last: int, first: float, last: float, low: float, high: float, count: int = 10
) -> Bucket:
    return Bucket(x_first, x_last, first, last, low, high, count)


def as_json(figure: dict) -> str:
    return json.dumps(figure, allow_nan=False)  # raises on NaN or infinity


def test_a_history_drawn_point_by_point_is_one_line_with_markers():
    series = Series("r1", "loss", "step", 3, buckets=[point(0, 3.0), point(1, 2.0), point(2, 2.5)])

    figure = charts.metric_figure(series, name="loss")

    assert len(figure["data"]) == 1
    (line,) = figure["data"]
    assert (line["x"], line["y"], line["mode"]) == ([0, 1, 2], [3.0, 2.0, 2.5], "lines+markers")
    assert figure["layout"]["xaxis"]["title"]["text"] == "Step"


def test_a_downsampled_history_gets_a_min_max_band_under_its_line():
    series = Series(
        "r1",
        "loss",
        "step",
        30,
        buckets=[
            dense(0, 9, 1.0, 0.9, 0.8, 1.1),
            dense(10, 19, 0.9, 0.7, 0.6, 50.0),
            dense(20, 29, 0.7, 0.5, 0.4, 0.8),
        ],
    )

    low, high, line = charts.metric_figure(series, name="loss")["data"]

    assert low["meta"] == high["meta"] == {"band": True}
    assert (low["name"], high["name"]) == ("min", "max")
    assert high["fill"] == "tonexty"
    assert max(high["y"]) == 50.0  # the spike stays visible
    assert min(low["y"]) == 0.4
    assert line["x"] == [0, 9, 10, 19, 20, 29]
    assert line["y"] == [1.0, 0.9, 0.9, 0.7, 0.7, 0.5]


def test_nan_and_infinite_values_never_reach_the_json():
    series = Series(
        "r1",
        "loss",
        "step",
        25,
        buckets=[
            point(0, None),
            point(1, math.inf),
            Bucket(2, 11, -math.inf, math.nan, 0.5, 0.9, 10, nans=1, neg_infs=1),
            dense(12, 21, 0.4, 0.3, 0.2, 0.5),
            point(22, 0.25),
        ],
    )

    figure = charts.metric_figure(series, name="loss")

    as_json(figure)
    line = figure["data"][-1]
    assert line["x"] == [12, 21, 22]


def test_the_time_axis_is_in_seconds():
    series = Series(
        "r1", "loss", "time", 2, origin=1_700_000_000_000, buckets=[point(0, 1.0), point(1_500, 2.0)]
    )

    figure = charts.metric_figure(series, name="loss")

    assert figure["data"][0]["x"] == [0.0, 1.5]
    assert figure["layout"]["xaxis"]["title"]["text"] == "Relative time (s)"


def test_compare_draws_one_trace_per_run_with_its_spikes_and_colour():
    calm = Series("a", "loss", "step", 2, buckets=[point(0, 1.0), point(1, 0.5)])
    spiky = Series(
        "b",
        "loss",
        "step",
        20,
        buckets=[dense(0, 9, 1.0, 0.9, 0.8, 40.0), dense(10, 19, 0.9, 0.6, -3.0, 1.0)],
    )

    figure = charts.compare_figure(
        [(calm, "<b>calm</b>", "#111111"), (spiky, "spiky & co", "#222222")], "step"
    )

    first, second = figure["data"]
    assert first["name"] == "&lt;b&gt;calm&lt;/b&gt;"
    assert second["name"] == "spiky &amp; co"
    assert (first["line"]["color"], second["line"]["color"]) == ("#111111", "#222222")
    assert 40.0 in second["y"] and -3.0 in second["y"]
    assert second["x"][:4] == [0, 4.5, 4.5, 9]
    as_json(figure)


def test_colours_cycle_through_the_palette():
    assert charts.color(0) == charts.PALETTE[0]
    assert charts.color(len(charts.PALETTE)) == charts.PALETTE[0]


def test_parcoords_shows_the_params_that_differ_and_the_metrics():
    params = [
        {"lr": "0.1", "optimizer": "sgd", "seed": "1"},
        {"lr": "0.01", "optimizer": "adam", "seed": "1"},
        {"lr": "0.001", "optimizer": "<script>", "seed": "1"},
    ]
    metrics = [{"acc": 0.8, "loss": 0.5}, {"acc": 0.9, "loss": None}, {"acc": 0.85, "loss": math.inf}]

    figure = charts.parcoords_figure(params, metrics)

    (trace,) = figure["data"]
    assert trace["type"] == "parcoords"
    labels = [dimension["label"] for dimension in trace["dimensions"]]
    assert labels == ["lr", "optimizer", "acc", "loss"]  # "seed" is the same everywhere
    lr, optimizer, _, loss = trace["dimensions"]
    assert lr["values"] == [0.1, 0.01, 0.001]
    assert optimizer["ticktext"] == ["sgd", "adam", "&lt;script&gt;"]
    assert optimizer["values"] == [0, 1, 2]
    assert loss["values"] == [0.5, None, None]
    assert trace["line"]["color"] == [0.8, 0.9, 0.85]
    as_json(figure)


def test_parcoords_needs_two_axes():
    assert charts.parcoords_figure([{"lr": "0.1"}, {"lr": "0.2"}], [{}, {}]) is None
