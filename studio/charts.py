"""Plotly figures for the studio's charts, as plain dicts ready for JSON.

The figures are built here, in Python, and drawn by `static/studio/charts.js` with plotly.js;
the browser only restyles them (smoothing, log scale). Nothing here reads the database: the
views pass in the series that `tracking.queries.metric_charts` bucketed.

Every number is finite (JSON has no NaN or infinity, and plotly draws neither): NaN and
infinite points are left out of the lines and counted instead. Text that comes from users
(run names, keys, values) goes through `plotly_text`, because plotly reads a few HTML tags in
labels, and a name is shown as it was written.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from tracking.queries.metric_bands import GroupBand
from tracking.queries.metric_charts import Bucket, Series

# Distinct, print-safe colours (Azure ML's chart palette is in the same spirit).
PALETTE = [
    "#2563eb",
    "#e8590c",
    "#0f9d58",
    "#c2185b",
    "#7c3aed",
    "#0891b2",
    "#b45309",
    "#4d7c0f",
    "#db2777",
    "#475569",
    "#1d4ed8",
    "#dc2626",
    "#059669",
    "#9333ea",
    "#ca8a04",
]
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif'
AXIS_TITLES = {"step": "Step", "time": "Relative time (s)"}
MARKERS_UP_TO = 60  # points in a line that also get markers, so a lone point is visible
MAX_PARCOORDS_PARAMS = 12
MAX_PARCOORDS_METRICS = 8


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def plotly_text(text: str) -> str:
    """`text` as plotly shows it literally: it reads <b>, <a href> and entities in labels."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def axis_value(series: Series, x: int) -> float:
    """An x of the series in the chart's units: a step, or seconds since the run's first point."""
    return x / 1000 if series.axis == "time" else x


def compact(value: float) -> float:
    """A value to 7 significant digits: what a chart can show (hover prints 6), in fewer bytes."""
    return float(f"{value:.7g}")


def _rgba(hex_color: str, alpha: float) -> str:
    red, green, blue = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def layout(axis: str, *, height: int = 260, hovermode: str = "x unified") -> dict:
    grid = "#eef1f5"
    return {
        "height": height,
        "margin": {"l": 56, "r": 14, "t": 8, "b": 40},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "font": {"family": FONT, "size": 12, "color": "#1c2330"},
        "xaxis": {
            "title": {"text": AXIS_TITLES[axis], "standoff": 4, "font": {"size": 12, "color": "#6b7280"}},
            "gridcolor": grid,
            "linecolor": "#d5dae1",
            "zeroline": False,
            "automargin": True,
        },
        "yaxis": {
            "type": "linear",
            "gridcolor": grid,
            "linecolor": "#d5dae1",
            "zeroline": False,
            "automargin": True,
        },
        "showlegend": False,
        "hovermode": hovermode,
        "hoverlabel": {"bgcolor": "#ffffff", "bordercolor": "#d5dae1", "font": {"family": FONT, "size": 12}},
        # Keeps the user's zoom and toggles when new data arrives (live refresh, re-bucketing).
        "uirevision": "chart",
    }


# --- One run: a line and its min-max band --------------------------------------------------------


def _line(series: Series) -> tuple[list, list]:
    """The first and last point of every bucket (one point when they coincide)."""
    xs, ys = [], []
    for bucket in series.buckets:
        points = [(bucket.x_first, bucket.first), (bucket.x_last, bucket.last)]
        if bucket.x_first == bucket.x_last:
            points = points[1:]
        for x, y in points:
            y = finite(y)
            if y is not None:
                xs.append(axis_value(series, x))
                ys.append(y if bucket.count == 1 else compact(y))
    return xs, ys


def _band(series: Series) -> tuple[list, list, list]:
    xs, lows, highs = [], [], []
    for bucket in series.buckets:
        if bucket.low is None or bucket.high is None:
            continue
        for x in dict.fromkeys((bucket.x_first, bucket.x_last)):
            xs.append(axis_value(series, x))
            lows.append(compact(bucket.low))
            highs.append(compact(bucket.high))
    return xs, lows, highs


def metric_traces(series: Series, *, name: str, line_color: str = PALETTE[0]) -> list[dict]:
    """A run's history as plotly traces: when downsampled, a band from each bucket's smallest to
    largest value (a spike stays visible), then the line through the buckets' first and last values.

    Values of downsampled buckets are sent to 7 significant digits; single points as they are.
    """
    traces = []
    if series.sampled:
        xs, lows, highs = _band(series)
        common = {
            "type": "scatter",
            "mode": "lines",
            "x": xs,
            "showlegend": False,
            "hovertemplate": "%{y:.6g}",
            "meta": {"band": True},
        }
        traces.append({**common, "name": "min", "y": lows, "line": {"width": 0, "color": line_color}})
        traces.append(
            {
                **common,
                "name": "max",
                "y": highs,
                "fill": "tonexty",
                "fillcolor": _rgba(line_color, 0.16),
                # A thin edge: a one-bucket spike is a hairline, not an invisible sliver of fill.
                "line": {"width": 0.6, "color": _rgba(line_color, 0.45)},
            }
        )
    xs, ys = _line(series)
    traces.append(_line_trace(name, xs, ys, line_color, width=1.8, marker=5, hover="%{y:.6g}"))
    return traces


def _line_trace(
    name: str, xs: list, ys: list, line_color: str, *, width: float, marker: int, hover: str
) -> dict:
    # Markers only while they can be told apart; past that they hide the line.
    return {
        "type": "scatter",
        "mode": "lines+markers" if len(xs) <= MARKERS_UP_TO else "lines",
        "name": plotly_text(name),
        "x": xs,
        "y": ys,
        "line": {"width": width, "color": line_color},
        "marker": {"size": marker, "color": line_color},
        "hovertemplate": hover,
    }


def series_summary(series: Series) -> dict:
    return {
        "run_id": series.run_id,
        "total": series.total,
        "shown": series.shown,
        "buckets": len(series.buckets),
        "sampled": series.sampled,
        "nans": series.nans,
        "infs": series.infs,
    }


def metric_figure(series: Series, *, name: str) -> dict:
    """The Metrics tab's chart of one key."""
    return {"data": metric_traces(series, name=name), "layout": layout(series.axis)}


# --- Several runs: one line each -------------------------------------------------------------


def _extremes_line(series: Series) -> tuple[list, list]:
    """First, the extremes, and last of each bucket (M4): at a pixel's width this draws what
    every point would, spikes included, in one line per run."""
    xs: list = []
    ys: list = []

    def add(x: float, y: float | None) -> None:
        y = finite(y)
        if y is not None:
            xs.append(x)
            ys.append(compact(y))

    for bucket in series.buckets:
        first_x, last_x = axis_value(series, bucket.x_first), axis_value(series, bucket.x_last)
        if bucket.count == 1:
            if finite(bucket.last) is not None:
                xs.append(last_x)
                ys.append(bucket.last)
            continue
        add(first_x, bucket.first)
        middle = (first_x + last_x) / 2
        for y in _extremes_in_order(bucket):
            add(middle, y)
        add(last_x, bucket.last)
    return xs, ys


def _extremes_in_order(bucket: Bucket) -> list[float | None]:
    if bucket.count <= 2 or bucket.low is None or bucket.high is None:
        return []
    start = finite(bucket.first)
    if start is not None and abs(start - bucket.high) < abs(start - bucket.low):
        return [bucket.high, bucket.low]
    return [bucket.low, bucket.high]


def compare_figure(runs: Sequence[tuple[Series, str, str]], axis: str) -> dict:
    """One chart of a key for several runs: (series, run name, colour) each, one trace per run."""
    data = []
    for series, name, line_color in runs:
        xs, ys = _extremes_line(series)
        hover = "%{y:.6g}<extra>%{fullData.name}</extra>"
        trace = _line_trace(name, xs, ys, line_color, width=1.5, marker=4, hover=hover)
        data.append({**trace, "meta": {"run_id": series.run_id}})
    return {"data": data, "layout": layout(axis, hovermode="closest")}


# --- Groups of runs: a mean line and a band each, and every run faint beneath -----------------

SPREADS = ("range", "std")  # min to max, and the mean ± one standard deviation


def group_figure(
    bands: Sequence[GroupBand], runs: Sequence[tuple[Series, str]], axis: str, *, label: str
) -> dict:
    """One chart of a key for runs grouped by `label` (a param or tag): per group, its band (both
    spreads are sent, the toolbar picks one by toggling visibility) and its mean; then each run
    as a thin line in its group's colour. The page's legend shows or hides a group or a run
    (the traces' `meta` names them), on every chart at once.
    """
    to_axis = (lambda x: x / 1000) if axis == "time" else (lambda x: x)
    colors = {band.value: color(index) for index, band in enumerate(bands)}
    data: list[dict] = []
    for band in bands:
        name = f"{label} = {band.value}" if band.value is not None else f"{label} not set"
        xs = [compact(to_axis(x)) for x in band.x]
        hue = colors[band.value]
        for spread in SPREADS:
            lows, highs = _spread(band, spread)
            common = {
                "type": "scatter",
                "mode": "lines",
                "x": xs,
                "showlegend": False,
                "hoverinfo": "skip",
                "visible": spread == "range",
                "meta": {"band": True, "spread": spread, "group": band.value},
            }
            data.append({**common, "y": lows, "line": {"width": 0, "color": hue}})
            data.append(
                {
                    **common,
                    "y": highs,
                    "fill": "tonexty",
                    "fillcolor": _rgba(hue, 0.18),
                    "line": {"width": 0, "color": hue},
                }
            )
        mean = _line_trace(
            f"{name} · mean of {len(band.run_ids)}",
            xs,
            [compact(y) for y in band.mean],
            hue,
            width=2.6,
            marker=5,
            hover="%{y:.6g} ± %{customdata[0]:.3g} (%{customdata[1]} runs)<extra>%{fullData.name}</extra>",
        )
        mean.update(
            customdata=[[compact(std), present] for std, present in zip(band.std, band.present, strict=True)],
            meta={"group": band.value, "mean": True},
        )
        data.append(mean)
    group_of = {run_id: band.value for band in bands for run_id in band.run_ids}
    for series, run_name in runs:
        xs, ys = _extremes_line(series)
        trace = _line_trace(
            run_name,
            xs,
            ys,
            _rgba(colors[group_of.get(series.run_id)], 0.45),
            width=1,
            marker=3,
            hover="%{y:.6g}<extra>%{fullData.name}</extra>",
        )
        trace.update(meta={"run_id": series.run_id})
        data.append(trace)
    return {"data": data, "layout": layout(axis, hovermode="closest")}


def _spread(band: GroupBand, spread: str) -> tuple[list[float], list[float]]:
    if spread == "std":
        return (
            [compact(mean - std) for mean, std in zip(band.mean, band.std, strict=True)],
            [compact(mean + std) for mean, std in zip(band.mean, band.std, strict=True)],
        )
    return [compact(y) for y in band.low], [compact(y) for y in band.high]


# --- Parallel coordinates --------------------------------------------------------------------


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _short(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _dimension(label: str, values: list) -> dict | None:
    """A numeric axis when every value given is a number, else one tick per distinct value."""
    given = [value for value in values if value is not None]
    if not given:
        return None
    if isinstance(given[0], float) or all(_number(value) is not None for value in given):
        numbers = [
            value if isinstance(value, float) else _number(value) if value is not None else None
            for value in values
        ]
        return {"label": plotly_text(_short(label)), "values": [finite(n) for n in numbers]}
    categories = sorted(set(given), key=lambda value: (len(value), value))
    index = {value: position for position, value in enumerate(categories)}
    return {
        "label": plotly_text(_short(label)),
        "values": [index.get(value) for value in values],
        "tickvals": list(range(len(categories))),
        "ticktext": [plotly_text(_short(value, 18)) for value in categories],
        "range": [-0.25, max(len(categories) - 1, 0) + 0.25],
    }


def parcoords_figure(
    params: Sequence[dict[str, str]], metrics: Sequence[dict[str, float | None]]
) -> dict | None:
    """Parallel coordinates of runs (one line each): the params that differ between them, then
    the latest metrics; lines coloured by the first metric. None when there is nothing to draw."""
    param_keys = sorted({key for run in params for key in run})
    varying = [key for key in param_keys if len({run.get(key) for run in params}) > 1] or param_keys
    metric_keys = sorted({key for run in metrics for key in run if finite(run[key]) is not None})
    dimensions = []
    for key in varying[:MAX_PARCOORDS_PARAMS]:
        dimension = _dimension(key, [run.get(key) for run in params])
        if dimension:
            dimensions.append(dimension)
    metric_dimensions = []
    for key in metric_keys[:MAX_PARCOORDS_METRICS]:
        dimension = _dimension(key, [finite(run.get(key)) for run in metrics])
        if dimension:
            metric_dimensions.append(dimension)
    dimensions += metric_dimensions
    if len(dimensions) < 2:
        return None
    line: dict = {"color": "#2563eb"}
    if metric_dimensions:
        colour_by = metric_dimensions[0]
        line = {
            "color": [value if value is not None else 0 for value in colour_by["values"]],
            "colorscale": "Viridis",
            "showscale": True,
            "colorbar": {"title": {"text": colour_by["label"], "side": "right"}, "thickness": 10, "len": 0.8},
        }
    return {
        "data": [
            {
                "type": "parcoords",
                "dimensions": dimensions,
                "line": line,
                "labelangle": -12,
                "labelfont": {"size": 12},
                "tickfont": {"size": 11},
            }
        ],
        "layout": {
            "height": 380,
            "margin": {"l": 60, "r": 60, "t": 56, "b": 24},
            "paper_bgcolor": "#ffffff",
            "font": {"family": FONT, "size": 12, "color": "#1c2330"},
        },
    }


# --- An experiment's traces over time (the Traces tab's Metrics panel) -----------------------------

STATE_COLORS = {"OK": "#0f9d58", "ERROR": "#dc2626"}
MIN_BUCKETS_SHOWN = 12  # a short history is drawn at the right of this many buckets, not stretched


def _moment(milliseconds: float) -> str:
    return datetime.fromtimestamp(milliseconds / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _time_layout(y_title: str, x_range: list[str], *, stacked: bool = False) -> dict:
    figure_layout = layout("step", height=200, hovermode="x unified")
    figure_layout["xaxis"].update(type="date", title={"text": ""}, range=x_range)
    figure_layout["yaxis"].update(
        title={"text": y_title, "font": {"size": 12, "color": "#6b7280"}}, rangemode="tozero"
    )
    figure_layout["margin"] = {"l": 56, "r": 14, "t": 26, "b": 30}
    figure_layout["showlegend"] = True
    # Above the plot, in the top margin, so that it hides no bar.
    figure_layout["legend"] = {
        "orientation": "h",
        "y": 1.0,
        "yanchor": "bottom",
        "x": 0,
        "font": {"size": 11},
    }
    if stacked:
        figure_layout["barmode"] = "stack"
    return figure_layout


def trace_metrics_figures(overview) -> list[dict]:
    """The Metrics panel's charts (a `tracking.queries.trace_metrics.Overview`): traces per bucket
    stacked by state, latency p50 and p95, and token usage when any trace reported it. Each value
    is drawn at the middle of its bucket."""
    interval = overview.interval_seconds * 1000
    last = overview.end_ms // interval * interval + interval
    x_range = [
        _moment(min(overview.start_ms // interval * interval, last - MIN_BUCKETS_SHOWN * interval)),
        _moment(last),
    ]

    def series(points: Sequence, label: str) -> dict:
        middles = [
            datetime.fromisoformat(p.dimensions["time_bucket"]).timestamp() * 1000 + interval / 2
            for p in points
        ]
        return {"x": [_moment(x) for x in middles], "y": [finite(p.values.get(label)) for p in points]}

    def bars(points: Sequence, label: str, name: str, bar_color: str) -> dict:
        return {
            "type": "bar",
            "name": plotly_text(name),
            "width": interval * 0.8,
            "marker": {"color": bar_color},
            **series(points, label),
        }

    states = sorted({point.dimensions["trace_status"] for point in overview.counts})
    counts = [
        bars(
            [p for p in overview.counts if p.dimensions["trace_status"] == state],
            "COUNT",
            state,
            STATE_COLORS.get(state, color(index + 9)),
        )
        for index, state in enumerate(states)
    ]
    lines = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": name,
            "line": {"color": PALETTE[index], "width": 2},
            "marker": {"size": 5},
            **series(overview.latency, label),
        }
        for index, (label, name) in enumerate([("P50.0", "p50"), ("P95.0", "p95")])
    ]
    figures = [
        {
            "key": "count",
            "title": "Traces",
            "figure": {"data": counts, "layout": _time_layout("traces", x_range, stacked=True)},
        },
        {
            "key": "latency",
            "title": "Latency",
            "figure": {"data": lines, "layout": _time_layout("ms", x_range)},
        },
    ]
    if overview.tokens:
        tokens = [bars(overview.tokens, "SUM", "total tokens", PALETTE[4])]
        figures.append(
            {
                "key": "tokens",
                "title": "Token usage",
                "figure": {"data": tokens, "layout": _time_layout("tokens", x_range)},
            }
        )
    return figures
