"""Metric histories for charts: any number of points, bucketed in SQL into a fixed budget.

A chart is a few hundred pixels wide, so a history of a million points is read as ~1,500
buckets along the x axis. Each bucket keeps what a line chart needs to look like the whole
history: its first and last value (the line), its smallest and largest value (so a spike stays
visible however many points share its bucket), and how many points, NaNs and infinities it holds.

Steps:
1. One query reads, per run, the key's summary (point count, highest step, min/max, which tells
   whether infinities exist) and its first and last timestamps (index seeks, no scan).
2. One GROUP BY over the points lays a common grid over all runs' x range (step, or time since
   each run's first point) and aggregates each bucket: MIN/MAX/COUNT of x, value and time.
3. One query fetches each bucket's first and last point through the (run, key, timestamp)
   index; a bucket whose steps do not grow with time is settled by step instead (one more scan).

Everything is plain SQL that SQLite and PostgreSQL both run; the only difference is how a list
of (run, x) pairs is passed to step 3. Three queries, whatever the number of runs and points;
an unchanged history is served from the cache after step 1.

Step 2 reads every point (a million points: about 0.3 s on SQLite here), so a worker draws the
whole-history view of a run's long metrics ahead of time when the run ends (`warm_charts`): the
first visit to its Metrics tab then costs step 1 alone.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import connection

from tracking.errors import InvalidParameterValue
from tracking.models import Metric, MetricSummary, Run
from tracking.raw_sql import quote as _q

AXES = ("step", "time")
MIN_POINTS = 10
MAX_POINTS = 2000
DEFAULT_POINTS = 1500
INF = math.inf
CACHE_SECONDS = 600  # a zoomed range: one of many, soon stale
WHOLE_HISTORY_CACHE_SECONDS = 7 * 24 * 3600  # the view every visit starts with; its key says when it is stale
WARM_MIN_POINTS = 50_000  # histories shorter than this draw fast enough when asked


@dataclass(frozen=True, slots=True)
class Bucket:
    """A stretch of the x axis and the points in it; values None for NaN (or none finite)."""

    x_first: int  # step, or milliseconds since the run's first point (time axis)
    x_last: int
    first: float | None  # the value at x_first (the earliest such point); may be ±inf
    last: float | None  # the value at x_last (the latest such point); may be ±inf
    low: float | None  # smallest finite value
    high: float | None  # largest finite value
    count: int
    nans: int = 0
    pos_infs: int = 0
    neg_infs: int = 0
    # Its place on the grid the runs drawn together share: the same slot is the same stretch of
    # x in every run's series, which is how runs are lined up for a group's mean and band.
    slot: int = -1


@dataclass(slots=True)
class Series:
    """One run's history of one key, as buckets in x order."""

    run_id: str
    key: str
    axis: str
    total: int  # points in the whole history (the range asked for may hold fewer)
    origin: int = 0  # time axis: the epoch milliseconds x counts from (the first point)
    buckets: list[Bucket] = field(default_factory=list)

    @property
    def sampled(self) -> bool:
        """True when some bucket stands for more than one point."""
        return any(bucket.count > 1 for bucket in self.buckets)

    @property
    def shown(self) -> int:
        return sum(bucket.count for bucket in self.buckets)

    @property
    def nans(self) -> int:
        return sum(bucket.nans for bucket in self.buckets)

    @property
    def infs(self) -> int:
        return sum(bucket.pos_infs + bucket.neg_infs for bucket in self.buckets)


@dataclass(slots=True)
class _Stats:
    pk: int
    uuid: str
    total: int
    max_step: int
    has_infs: bool
    first_ts: int
    last_ts: int
    first_step: int  # the step of the earliest-logged point: where the step axis usually starts


def check_chart_args(axis: str, points: int) -> None:
    if axis not in AXES:
        raise InvalidParameterValue(f"x must be one of {', '.join(AXES)}, got {axis!r}.")
    if not MIN_POINTS <= points <= MAX_POINTS:
        raise InvalidParameterValue(f"points must be between {MIN_POINTS} and {MAX_POINTS}, got {points}.")


def bucketed_history(
    run: Run,
    key: str,
    *,
    axis: str = "step",
    points: int = DEFAULT_POINTS,
    x_from: int | None = None,
    x_to: int | None = None,
) -> Series:
    """One run's history of `key` in at most about `points` buckets (an empty series if none)."""
    found = bucketed_histories([run], key, axis=axis, points=points, x_from=x_from, x_to=x_to)
    return found[0] if found else Series(run.uuid, key, axis, 0)


def bucketed_histories(
    runs: Sequence[Run],
    key: str,
    *,
    axis: str = "step",
    points: int = DEFAULT_POINTS,
    x_from: int | None = None,
    x_to: int | None = None,
) -> list[Series]:
    """The runs' histories of `key` on one common grid, in the runs' order; runs without it left out.

    `x_from`/`x_to` (inclusive, in axis units: a step, or milliseconds since each run's first
    point) narrow the range, for re-bucketing a zoomed chart at full resolution.
    """
    check_chart_args(axis, points)
    stats = _stats(runs, key)
    if not stats:
        return []
    # Points are never changed, only added, so a run's point count and last step and time say
    # whether its history changed: repeated views and live refreshes of a quiet run cost one query.
    version = [(s.uuid, s.total, s.max_step, s.first_ts, s.last_ts) for s in stats]
    cache_key = (
        "metric-charts:v2:"
        + hashlib.sha256(repr((version, key, axis, points, x_from, x_to)).encode()).hexdigest()
    )
    found = cache.get(cache_key)
    if found is None:
        found = _bucket(stats, key, axis, points, x_from, x_to)
        whole = x_from is None and x_to is None
        cache.set(cache_key, found, WHOLE_HISTORY_CACHE_SECONDS if whole else CACHE_SECONDS)
    return found


def warm_charts(run: Run) -> list[str]:
    """Buckets the whole history of each of the run's metrics with at least WARM_MIN_POINTS
    points, on both axes at the default budget (what the Metrics tab asks for first), into the
    cache. Returns the keys it drew."""
    keys = list(_long_histories(run).order_by("key").values_list("key", flat=True))
    for key in keys:
        for axis in AXES:
            bucketed_histories([run], key, axis=axis)
    return keys


def has_long_histories(run: Run) -> bool:
    return _long_histories(run).exists()


def _long_histories(run: Run):
    return MetricSummary.objects.filter(run=run, count__gte=WARM_MIN_POINTS)


def _bucket(
    stats: list[_Stats], key: str, axis: str, points: int, x_from: int | None, x_to: int | None
) -> list[Series]:
    grid = _grid(stats, axis, points, x_from, x_to)
    if grid is None:
        return [Series(s.uuid, key, axis, s.total, _origin(s, axis)) for s in stats]
    low, width, ranged = grid
    rows = _bucket_rows(stats, key, axis, low, width, ranged, x_from, x_to)
    lowest = min((row[2] for row in rows), default=low)
    if lowest < low:
        # Some step comes before the earliest-logged point's: lay the grid from the true start.
        low, width, _ = _grid(stats, axis, points, lowest, x_to if ranged else None) or grid
        rows = _bucket_rows(stats, key, axis, low, width, ranged, x_from, x_to)
    return _assemble(stats, key, axis, rows)


# --- 1. What each run has ----------------------------------------------------------------------


def _stats(runs: Sequence[Run], key: str) -> list[_Stats]:
    if not runs:
        return []
    by_pk = {run.pk: run for run in runs}
    metric, summary = _q(Metric._meta.db_table), _q(MetricSummary._meta.db_table)
    ts = _q("timestamp")
    # Correlated look-ups walk the (run, key, timestamp, ...) index: a seek each, not a scan.
    sql = f"""
        SELECT s.run_id, s.{_q("count")}, s.step, s.min_value, s.max_value,
               (SELECT MIN(m.{ts}) FROM {metric} m WHERE m.run_id = s.run_id AND m.key = s.key),
               (SELECT MAX(m.{ts}) FROM {metric} m WHERE m.run_id = s.run_id AND m.key = s.key),
               (SELECT m.step FROM {metric} m WHERE m.run_id = s.run_id AND m.key = s.key
                ORDER BY m.{ts}, m.step LIMIT 1)
        FROM {summary} s
        WHERE s.run_id IN ({", ".join(["%s"] * len(by_pk))}) AND s.key = %s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*by_pk, key])
        rows = {row[0]: row for row in cursor.fetchall()}
    stats = []
    for pk, run in by_pk.items():
        row = rows.get(pk)
        if row is None or row[5] is None:
            continue
        _, total, max_step, low, high, first_ts, last_ts, first_step = row
        infinite = any(value is not None and math.isinf(value) for value in (low, high))
        stats.append(_Stats(pk, run.uuid, total, max_step, infinite, first_ts, last_ts, first_step))
    return stats


def _origin(stats: _Stats, axis: str) -> int:
    return stats.first_ts if axis == "time" else 0


# --- 2. The grid and the buckets ---------------------------------------------------------------


def _grid(
    stats: list[_Stats], axis: str, points: int, x_from: int | None, x_to: int | None
) -> tuple[int, int, bool] | None:
    """(lowest x, bucket width, whether a range was asked for); None for an empty range."""
    if axis == "step":
        low = min(s.first_step for s in stats) if x_from is None else x_from
        high = max(s.max_step for s in stats) if x_to is None else x_to
    else:
        low = 0 if x_from is None else x_from
        high = max(s.last_ts - s.first_ts for s in stats) if x_to is None else x_to
    if high < low:
        return None
    width = max(1, -(-(high - low + 1) // points))  # ceiling division
    return low, width, x_from is not None or x_to is not None


def _x_expression(stats: list[_Stats], axis: str, params: list) -> str:
    if axis == "step":
        return "m.step"
    # Time since each run's own first point, so that runs started apart line up.
    if len(stats) == 1:
        params.append(stats[0].first_ts)
        return f"(m.{_q('timestamp')} - %s)"
    cases = " ".join("WHEN %s THEN %s" for _ in stats)
    for s in stats:
        params += [s.pk, s.first_ts]
    return f"(m.{_q('timestamp')} - CASE m.run_id {cases} END)"


def _range_filter(stats: list[_Stats], axis: str, x_from: int | None, x_to: int | None, params: list) -> str:
    """The condition keeping x within [x_from, x_to] (either may be open)."""

    def bounds(column: str, origin: int) -> str:
        conditions = []
        if x_from is not None:
            conditions.append(f"{column} >= %s")
            params.append(origin + x_from)
        if x_to is not None:
            conditions.append(f"{column} <= %s")
            params.append(origin + x_to)
        return " AND ".join(conditions)

    if axis == "step":
        return f"AND {bounds('m.step', 0)}"
    # On the time axis each run has its own origin; the index serves each run's own range.
    timestamp = f"m.{_q('timestamp')}"
    ranges = []
    for s in stats:
        params.append(s.pk)
        ranges.append(f"(m.run_id = %s AND {bounds(timestamp, s.first_ts)})")
    return f"AND ({' OR '.join(ranges)})"


def _bucket_rows(
    stats: list[_Stats],
    key: str,
    axis: str,
    low: int,
    width: int,
    ranged: bool,
    x_from: int | None,
    x_to: int | None,
) -> list[tuple]:
    """Rows of (run pk, bucket, x first, x last, min, max, count, non-NaN count, finite min,
    finite max, +inf count, -inf count, first timestamp, last timestamp)."""
    params: list = []
    x = _x_expression(stats, axis, params)
    bucket = f"({x} - CAST(%s AS BIGINT)) / CAST(%s AS BIGINT)"
    params += [low, width]
    if any(s.has_infs for s in stats):
        # Only histories holding an infinity pay for these CASEs: min/max over finite values.
        finite = "CASE WHEN m.value > %s AND m.value < %s THEN m.value END"
        extra = (
            f"MIN({finite}), MAX({finite}), "
            "SUM(CASE WHEN m.value = %s THEN 1 ELSE 0 END), SUM(CASE WHEN m.value = %s THEN 1 ELSE 0 END)"
        )
        extra_params = [-INF, INF, -INF, INF, INF, -INF]
    else:
        extra, extra_params = "NULL, NULL, 0, 0", []
    # The x expression appears twice (bucket and MIN/MAX of x): its parameters go in twice.
    x_params = params[: len(params) - 2]
    select_params = [*params, *x_params, *x_params, *extra_params]
    where_params: list = [*(s.pk for s in stats), key]
    where = _range_filter(stats, axis, x_from, x_to, where_params) if ranged else ""
    # On the step axis, the bucket's time span finds its first and last points through the
    # (run, key, timestamp) index (step 3); on the time axis x is that span already.
    times = f"MIN(m.{_q('timestamp')}), MAX(m.{_q('timestamp')})" if axis == "step" else "NULL, NULL"
    sql = f"""
        SELECT m.run_id, {bucket} AS b, MIN({x}), MAX({x}), MIN(m.value), MAX(m.value),
               COUNT(*), COUNT(m.value), {extra}, {times}
        FROM {_q(Metric._meta.db_table)} m
        WHERE m.run_id IN ({", ".join(["%s"] * len(stats))}) AND m.key = %s {where}
        GROUP BY m.run_id, b
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, select_params + where_params)
        return cursor.fetchall()


# --- 3. First and last values, and the series --------------------------------------------------


def _points_at(stats: list[_Stats], key: str, column: str, pairs: set[tuple[int, int]]) -> list[tuple]:
    """(run pk, step, timestamp, value) of the points whose (run pk, `column`) is in `pairs`."""
    if not pairs:
        return []
    if connection.vendor == "postgresql":
        wanted = "SELECT * FROM unnest(%s::bigint[], %s::bigint[])"
        params: list = [[pk for pk, _ in pairs], [x for _, x in pairs]]
    else:
        wanted = "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(%s)"
        params = [json.dumps(sorted(pairs))]
    sql = f"""
        SELECT m.run_id, m.step, m.{_q("timestamp")}, m.value FROM {_q(Metric._meta.db_table)} m
        WHERE m.key = %s AND m.run_id IN ({", ".join(["%s"] * len(stats))})
          AND (m.run_id, m.{_q(column)}) IN ({wanted})
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [key, *(s.pk for s in stats), *params])
        return cursor.fetchall()


def _edges(stats: list[_Stats], key: str, axis: str, rows: list[tuple]) -> dict[tuple[int, int], tuple]:
    """(run pk, bucket) -> (first value, last value), for the buckets of more than one point.

    The bucket's first point is the earliest point at its lowest x, its last the latest at its
    highest x. Both are looked up by timestamp: on the time axis that is x; on the step axis,
    the earliest point in the bucket is its first whenever its step is the bucket's lowest (as
    when steps grow with time, the usual case), and likewise for the last. Buckets where that
    does not hold are settled by step, which reads the run's history once more.
    """
    origins = {s.pk: _origin(s, axis) for s in stats}
    wanted = {}  # (run pk, bucket) -> (x first, x last, first timestamp, last timestamp)
    for row in rows:
        if row[6] > 1:
            run_pk, bucket, x_first, x_last = row[:4]
            if axis == "step":
                wanted[run_pk, bucket] = (x_first, x_last, row[12], row[13])
            else:
                wanted[run_pk, bucket] = (
                    x_first,
                    x_last,
                    x_first + origins[run_pk],
                    x_last + origins[run_pk],
                )
    at_time: dict[tuple[int, int], list[tuple]] = {}
    times = {(pk, t) for (pk, _), (_, _, t0, t1) in wanted.items() for t in (t0, t1)}
    for run_pk, step, timestamp, value in _points_at(stats, key, "timestamp", times):
        at_time.setdefault((run_pk, timestamp), []).append((step, value))
    edges: dict[tuple[int, int], tuple] = {}
    unsettled = {}
    for (run_pk, bucket), (x_first, x_last, t_first, t_last) in wanted.items():
        if axis == "step":
            firsts = [value for step, value in at_time.get((run_pk, t_first), []) if step == x_first]
            lasts = [value for step, value in at_time.get((run_pk, t_last), []) if step == x_last]
        else:  # the points at the bucket's first and last millisecond, taken in step order
            firsts = [value for _, value in sorted(at_time.get((run_pk, t_first), []), key=_by_step)[:1]]
            lasts = [value for _, value in sorted(at_time.get((run_pk, t_last), []), key=_by_step)[-1:]]
        if firsts and lasts:
            edges[run_pk, bucket] = (firsts[0], lasts[-1])
        else:
            unsettled[run_pk, bucket] = (x_first, x_last)
    if unsettled:
        edges.update(_edges_by_step(stats, key, unsettled))
    return edges


def _by_step(point: tuple) -> tuple:
    return point[0], point[1] is not None, point[1] or 0.0


def _edges_by_step(
    stats: list[_Stats], key: str, unsettled: dict[tuple[int, int], tuple[int, int]]
) -> dict[tuple[int, int], tuple]:
    steps = {(pk, x) for (pk, _), xs in unsettled.items() for x in xs}
    earliest: dict[tuple[int, int], tuple] = {}
    latest: dict[tuple[int, int], tuple] = {}
    for run_pk, step, timestamp, value in _points_at(stats, key, "step", steps):
        order = (timestamp, value is not None, value or 0.0)
        if (run_pk, step) not in earliest or order < earliest[run_pk, step][0]:
            earliest[run_pk, step] = (order, value)
        if (run_pk, step) not in latest or order > latest[run_pk, step][0]:
            latest[run_pk, step] = (order, value)
    return {
        (pk, bucket): (earliest[pk, x_first][1], latest[pk, x_last][1])
        for (pk, bucket), (x_first, x_last) in unsettled.items()
        if (pk, x_first) in earliest and (pk, x_last) in latest
    }


def _assemble(stats: list[_Stats], key: str, axis: str, rows: list[tuple]) -> list[Series]:
    edges = _edges(stats, key, axis, rows)
    by_run: dict[int, list[tuple]] = {}
    for row in rows:
        by_run.setdefault(row[0], []).append(row)
    return [
        Series(
            s.uuid,
            key,
            axis,
            s.total,
            _origin(s, axis),
            [_bucket_of(row, edges) for row in sorted(by_run.get(s.pk, []), key=lambda row: row[1])],
        )
        for s in stats
    ]


def _bucket_of(row: tuple, edges: dict[tuple[int, int], tuple]) -> Bucket:
    run_pk, bucket, x_first, x_last, low, high, count, numbers, finite_low, finite_high, pos, neg = row[:12]
    if pos or neg or _infinite(low) or _infinite(high):
        low, high = finite_low, finite_high
    if count == 1:
        first = last = low if low is not None else (INF if pos else -INF if neg else None)
    else:
        first, last = edges.get((run_pk, bucket), (None, None))
    return Bucket(
        x_first=int(x_first),
        x_last=int(x_last),
        first=_number(first),
        last=_number(last),
        low=low,
        high=high,
        count=count,
        nans=count - numbers,
        pos_infs=int(pos or 0),
        neg_infs=int(neg or 0),
        slot=int(bucket),
    )


def _infinite(value: float | None) -> bool:
    return value is not None and math.isinf(value)


def _number(value) -> float | None:
    return None if value is None else float(value)
