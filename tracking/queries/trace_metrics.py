"""Metrics over an experiment's traces, spans or assessments (MLflow 3.17.2's QueryTraceMetrics):
counts, latencies, token usage, costs and assessment values, aggregated (COUNT, SUM, AVG, MIN,
MAX, PERCENTILE) per dimension and per time bucket, as MLflow's SQL store answers.

1. The rows (traces, spans or valid assessments of the workspace's experiments, in the time range,
   passing the filters) are an ORM query selecting each group's dimensions and the metric's value.
2. One statement groups and aggregates them: `SELECT dims, aggregates FROM (rows) GROUP BY dims
   ORDER BY dims LIMIT n`. Nothing is loaded row by row.

Percentiles interpolate linearly between the two nearest values (PERCENTILE_CONT, numpy's
default), as MLflow's store does on every database. PostgreSQL has PERCENTILE_CONT; SQLite has
none, so there each value's rank in its group comes from window functions (ROW_NUMBER and COUNT
OVER the group) and the aggregate picks the two values around the percentile's position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    BigIntegerField,
    Count,
    ExpressionWrapper,
    F,
    FilteredRelation,
    Func,
    Max,
    Min,
    Q,
    QuerySet,
    Value,
    Window,
)
from django.db.models.functions import RowNumber

from tracking.errors import InvalidParameterValue
from tracking.models import Assessment, Experiment, Span, Trace, Workspace
from tracking.queries.experiments import parse_experiment_number
from tracking.search.trace_metrics import filter_metric_rows
from tracking.timed_cache import MISSING, TimedCache
from tracking.times import MAX_MS, datetime_to_ms, ms_to_datetime

DEFAULT_MAX_RESULTS = 1000  # MLflow's MAX_RESULTS_QUERY_TRACE_METRICS
MAX_RESULTS_CAP = 10_000  # a larger max_results is read as this many
MAX_TIME_BUCKETS = 10_000
MAX_FILTERS = 100  # each is a condition of the one statement; SQLite's expressions nest 1,000 deep
TIME_BUCKET = "time_bucket"
TRACE_NAME_TAG = "mlflow.traceName"
SESSION_METADATA = "mlflow.trace.session"
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1
_NS_PER_MS = 1_000_000

COUNT, SUM, AVG, MIN, MAX, PERCENTILE = "COUNT", "SUM", "AVG", "MIN", "MAX", "PERCENTILE"
_STATS = {AVG, MIN, MAX, PERCENTILE}
_SUMS = {SUM, *_STATS}


@dataclass(frozen=True)
class MetricSpec:
    aggregations: frozenset[str]
    dimensions: frozenset[str]


def _spec(aggregations: set[str], *dimensions: str) -> MetricSpec:
    return MetricSpec(frozenset(aggregations), frozenset(dimensions))


_TOKENS = _spec(_SUMS, "trace_name")
_COSTS = _spec(_SUMS, "span_model_name", "span_model_provider")
# view -> metric -> what it takes, in MLflow's order (its messages list them).
VIEWS: dict[str, dict[str, MetricSpec]] = {
    "TRACES": {
        "trace_count": _spec({COUNT}, "trace_name", "trace_status"),
        "session_count": _spec({COUNT}),
        "latency": _spec(_STATS, "trace_name"),
        "input_tokens": _TOKENS,
        "output_tokens": _TOKENS,
        "total_tokens": _TOKENS,
        "cache_read_input_tokens": _TOKENS,
        "cache_creation_input_tokens": _TOKENS,
    },
    "SPANS": {
        "span_count": _spec(
            {COUNT}, "span_name", "span_type", "span_status", "span_model_name", "span_model_provider"
        ),
        "latency": _spec(_STATS, "span_name", "span_status"),
        "input_cost": _COSTS,
        "output_cost": _COSTS,
        "total_cost": _COSTS,
    },
    "ASSESSMENTS": {
        "assessment_count": _spec({COUNT}, "assessment_name", "assessment_value"),
        "assessment_value": _spec(_STATS, "assessment_name"),
    },
}
_DIMENSION_COLUMNS = {
    "trace_name": "name_tag__value",
    "trace_status": "state",
    "span_name": "name",
    "span_type": "span_type",
    "span_status": "status",
    "span_model_name": "model_name",
    "span_model_provider": "model_provider",
    "assessment_name": "name",
    "assessment_value": "value",
}
_COST_METRICS = {"input_cost", "output_cost", "total_cost"}


@dataclass(frozen=True)
class Aggregation:
    kind: str  # COUNT | SUM | AVG | MIN | MAX | PERCENTILE
    percentile: float | None = None

    @property
    def label(self) -> str:
        """MLflow's name of the value: the kind, or "P<percentile>" ("P50.0", "P99.9")."""
        return f"P{self.percentile}" if self.kind == PERCENTILE else self.kind


@dataclass(frozen=True)
class MetricsQuery:
    view_type: str
    metric_name: str
    aggregations: tuple[Aggregation, ...]
    dimensions: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    time_interval_seconds: int | None = None
    start_time_ms: int | None = None
    end_time_ms: int | None = None
    max_results: int = DEFAULT_MAX_RESULTS


@dataclass(frozen=True)
class DataPoint:
    metric_name: str
    dimensions: dict[str, str] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)


def make_aggregation(kind: str, percentile: float | None) -> Aggregation:
    if kind == PERCENTILE:
        if percentile is None:
            raise InvalidParameterValue("Percentile value is required for PERCENTILE aggregation")
        if not 0 <= percentile <= 100:  # NaN fails too
            raise InvalidParameterValue(f"Percentile value must be between 0 and 100, got {percentile}")
        return Aggregation(kind, float(percentile))
    if percentile is not None:
        raise InvalidParameterValue(
            f"Percentile value is only allowed for PERCENTILE aggregation type, got {kind}"
        )
    return Aggregation(kind)


def validate_metrics_query(query: MetricsQuery) -> None:
    """MLflow's checks (its messages), then ours: a time range cut into too many buckets, a bad
    interval or page size."""
    metrics = VIEWS.get(query.view_type)
    if metrics is None:
        raise InvalidParameterValue(f"view_type must be one of {list(VIEWS)}, got '{query.view_type}'")
    spec = metrics.get(query.metric_name)
    if spec is None:
        raise InvalidParameterValue(f"metric_name must be one of {list(metrics)}, got '{query.metric_name}'")
    if invalid := {aggregation.kind for aggregation in query.aggregations} - spec.aggregations:
        raise InvalidParameterValue(
            f"Found invalid aggregation_type(s): {sorted(invalid)}. "
            f"Supported aggregation types: {sorted(spec.aggregations)}"
        )
    if invalid := set(query.dimensions) - spec.dimensions:
        raise InvalidParameterValue(
            f"Found invalid dimension(s): {sorted(invalid)}. Supported dimensions: {sorted(spec.dimensions)}"
        )
    if len(query.filters) > MAX_FILTERS:
        raise InvalidParameterValue(
            f"A query takes at most {MAX_FILTERS} filters; it has {len(query.filters)}."
        )
    if query.max_results < 1:
        raise InvalidParameterValue(
            f"Invalid value {query.max_results} for parameter 'max_results': it must be at least 1."
        )
    interval = query.time_interval_seconds
    if interval:
        if query.start_time_ms is None or query.end_time_ms is None:
            raise InvalidParameterValue(
                "start_time_ms and end_time_ms are required if time_interval_seconds is set"
            )
        if not 0 < interval * 1000 <= _BIGINT_MAX:
            raise InvalidParameterValue(
                f"Invalid value {interval} for parameter 'time_interval_seconds': "
                "it must be a positive number of seconds."
            )
        buckets = query.end_time_ms // (interval * 1000) - query.start_time_ms // (interval * 1000) + 1
        if buckets > MAX_TIME_BUCKETS:
            raise InvalidParameterValue(
                f"The time range cut in intervals of {interval} seconds makes {buckets} buckets; "
                f"at most {MAX_TIME_BUCKETS} are allowed. Choose a longer interval or a shorter range."
            )


class EpochMilliseconds(Func):
    """A stored time as milliseconds since the epoch (an integer), on either database."""

    output_field = BigIntegerField()
    template = "CAST(FLOOR(EXTRACT(EPOCH FROM %(expressions)s) * 1000) AS BIGINT)"

    def as_sqlite(self, compiler, connection, **extra_context):
        # Django keeps times as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC. A Julian day is a double: to
        # the nearest millisecond it is exact here (stored times are whole milliseconds, and its
        # error is some microseconds), in one function call rather than strftime's two.
        template = "CAST((julianday(%(expressions)s) - 2440587.5) * 86400000.0 + 0.5 AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra_context)


def _experiments(workspace: Workspace, experiment_ids: list[str]) -> list[int]:
    numbers = [parse_experiment_number(experiment_id) for experiment_id in experiment_ids]
    return list(
        Experiment.objects.filter(workspace=workspace, number__in=numbers).values_list("pk", flat=True)
    )


def _in_time_range(column: str, start_ms: int | None, end_ms: int | None) -> Q:
    """Q of a time column between two epoch milliseconds, both included (any int64 accepted)."""
    condition = Q()
    if start_ms is not None:
        if start_ms > MAX_MS:
            return Q(pk__in=[])
        if start_ms > 0:
            condition &= Q(**{f"{column}__gte": ms_to_datetime(start_ms)})
    if end_ms is not None:
        if end_ms < 0:
            return Q(pk__in=[])
        if end_ms < MAX_MS:
            condition &= Q(**{f"{column}__lte": ms_to_datetime(end_ms)})
    return condition


def _clamp(value: int) -> int:
    return max(_BIGINT_MIN, min(_BIGINT_MAX, value))


def _rows(workspace: Workspace, experiments: list[int], query: MetricsQuery) -> tuple[QuerySet, str, Any]:
    """The rows of the view, filtered; the name of their trace; their time in milliseconds."""
    start, end = query.start_time_ms, query.end_time_ms
    if query.view_type == "TRACES":
        rows = Trace.objects.filter(workspace=workspace, experiment_id__in=experiments)
        return (
            rows.filter(_in_time_range("request_time", start, end)),
            "pk",
            EpochMilliseconds("request_time"),
        )
    if query.view_type == "ASSESSMENTS":
        rows = Assessment.objects.filter(
            trace__workspace=workspace, trace__experiment_id__in=experiments, valid=True
        )
        time = EpochMilliseconds("trace__request_time")
        return rows.filter(_in_time_range("trace__request_time", start, end)), "trace_id", time
    rows = Span.objects.filter(trace__workspace=workspace, trace__experiment_id__in=experiments)
    if query.metric_name in _COST_METRICS:
        # Costs are counted when the span started; counts and latencies when its trace did (as MLflow).
        if start is not None:
            rows = rows.filter(start_time_ns__gte=_clamp(start * _NS_PER_MS))
        if end is not None:
            rows = rows.filter(start_time_ns__lt=_clamp((end + 1) * _NS_PER_MS))
    else:
        rows = rows.filter(_in_time_range("trace__request_time", start, end))
    time = ExpressionWrapper(F("start_time_ns") / Value(_NS_PER_MS), output_field=BigIntegerField())
    return rows, "trace_id", time


def _value(rows: QuerySet, query: MetricsQuery) -> tuple[QuerySet, Any]:
    """The rows with what the metric aggregates (`None` where there is nothing to count)."""
    metric = query.metric_name
    if query.view_type == "TRACES":
        if metric == "trace_count":
            return rows, F("pk")
        if metric == "session_count":
            session = FilteredRelation("metadata", condition=Q(metadata__key=SESSION_METADATA))
            return rows.annotate(session=session), F("session__value")
        if metric == "latency":
            return rows, F("execution_duration_ms")
        return rows, F(metric)  # a token column
    if query.view_type == "SPANS":
        if metric == "span_count":
            return rows, F("pk")
        if metric == "latency":
            # Whole milliseconds (integer division), as MLflow's store computes them.
            duration = (F("end_time_ns") - F("start_time_ns")) / Value(_NS_PER_MS)
            return rows, ExpressionWrapper(duration, output_field=BigIntegerField())
        return rows, F(metric)  # a cost column
    return rows, F("pk") if metric == "assessment_count" else F("aggregate_value")


def _metric_rows(
    workspace: Workspace, experiments: list[int], query: MetricsQuery
) -> tuple[QuerySet, list[str]]:
    """The ORM query of step 1: columns d0, d1, … (the groups) and v (the value), plus `rn` and
    `cnt` (rank and size of the group) where SQLite has to compute percentiles."""
    rows, trace_ref, time = _rows(workspace, experiments, query)
    rows = filter_metric_rows(rows, list(query.filters), query.view_type, trace_ref)
    rows, value = _value(rows, query)
    if "trace_name" in query.dimensions:
        rows = rows.annotate(name_tag=FilteredRelation("tags", condition=Q(tags__key=TRACE_NAME_TAG)))
    groups: dict[str, Any] = {}
    dimensions = list(dict.fromkeys(query.dimensions))  # a dimension named twice groups once
    if query.time_interval_seconds:
        bucket_ms = query.time_interval_seconds * 1000
        # Times are never negative here, so integer division is the floor MLflow takes.
        groups["d0"] = ExpressionWrapper(
            time / Value(bucket_ms) * Value(bucket_ms), output_field=BigIntegerField()
        )
    for dimension in dimensions:
        groups[f"d{len(groups)}"] = F(_DIMENSION_COLUMNS[dimension])
    rows = rows.annotate(v=value, **groups)
    # Rows without a value or a group are left out before grouping (as MLflow does), so that they
    # take no place in the LIMIT; a session count counts the traces' distinct sessions.
    rows = rows.filter(v__isnull=False, **{f"{name}__isnull": False for name in groups})
    names = list(groups)
    if connection.vendor != "postgresql" and any(a.kind == PERCENTILE for a in query.aggregations):
        partition = [F(name) for name in names] or None
        rows = rows.annotate(
            rn=Window(RowNumber(), partition_by=partition, order_by=F("v").asc()),
            cnt=Window(Count("*"), partition_by=partition),
        )
        return rows.values(*names, "v", "rn", "cnt"), names
    return rows.values(*names, "v"), names


def _aggregate_sql(aggregation: Aggregation, distinct: bool) -> tuple[str, list[Any]]:
    if aggregation.kind == COUNT:
        return ('COUNT(DISTINCT "v")' if distinct else 'COUNT("v")'), []
    if aggregation.kind != PERCENTILE:
        return f'{aggregation.kind}("v")', []
    fraction = aggregation.percentile / 100
    if connection.vendor == "postgresql":
        return 'PERCENTILE_CONT(CAST(%s AS DOUBLE PRECISION)) WITHIN GROUP (ORDER BY "v")', [fraction]
    # The value at position fraction * (n - 1) of the group sorted: the one below it, plus the
    # fraction of the way to the one above it.
    position = 'CAST(%s AS DOUBLE PRECISION) * ("cnt" - 1)'
    below = f'MAX(CASE WHEN "rn" - 1 <= {position} THEN "v" END)'
    above = f'MIN(CASE WHEN "rn" - 1 >= {position} THEN "v" END)'
    index_below = f'MAX(CASE WHEN "rn" - 1 <= {position} THEN "rn" - 1 END)'
    sql = (
        f'({below} + (CAST(%s AS DOUBLE PRECISION) * (MAX("cnt") - 1) - {index_below}) * ({above} - {below}))'
    )
    return sql, [fraction] * sql.count("%s")


def query_trace_metrics(
    workspace: Workspace, experiment_ids: list[str], query: MetricsQuery
) -> list[DataPoint]:
    """The data points, ordered by time bucket then dimensions, at most `max_results` of them."""
    validate_metrics_query(query)
    return _data_points(workspace, _experiments(workspace, experiment_ids), query)


def _data_points(workspace: Workspace, experiments: list[int], query: MetricsQuery) -> list[DataPoint]:
    rows, groups = _metric_rows(workspace, experiments, query)
    aggregations = list({aggregation.label: aggregation for aggregation in query.aggregations}.values())
    try:
        inner_sql, params = rows.query.sql_with_params()
    except EmptyResultSet:  # no experiment, or a time range no trace can be in
        # Aggregates over no rows: one row without groups (a count of 0), none with groups.
        counts = {aggregation.label: 0.0 for aggregation in aggregations if aggregation.kind == COUNT}
        return [DataPoint(query.metric_name, {}, counts)] if counts and not groups else []
    selected, select_params = [f'"{name}"' for name in groups], []
    for aggregation in aggregations:
        sql, sql_params = _aggregate_sql(aggregation, distinct=query.metric_name == "session_count")
        selected.append(sql)
        select_params += sql_params
    sql = f"SELECT {', '.join(selected)} FROM ({inner_sql}) metric_rows"
    if groups:
        columns = ", ".join(f'"{name}"' for name in groups)
        sql += f" GROUP BY {columns} ORDER BY {columns}"
    sql += " LIMIT %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*select_params, *params, min(query.max_results, MAX_RESULTS_CAP)])
        results = cursor.fetchall()
    names = ([TIME_BUCKET] if query.time_interval_seconds else []) + list(dict.fromkeys(query.dimensions))
    points = []
    for row in results:
        dimensions = dict(zip(names, row[: len(groups)], strict=True))
        if TIME_BUCKET in dimensions:
            moment = datetime.fromtimestamp(int(dimensions[TIME_BUCKET]) / 1000, tz=UTC)
            dimensions[TIME_BUCKET] = moment.isoformat()
        values = {
            aggregation.label: float(value)
            for aggregation, value in zip(aggregations, row[len(groups) :], strict=True)
            if value is not None
        }
        if values:  # a group whose every aggregate is NULL is no data point (as in MLflow)
            points.append(DataPoint(query.metric_name, {k: str(v) for k, v in dimensions.items()}, values))
    return points


# The studio's overview of an experiment's traces: about this many buckets, of a round length.
OVERVIEW_BUCKETS = 60
OVERVIEW_INTERVALS = [60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400]


@dataclass(frozen=True)
class Overview:
    """An experiment's traces over time, from its first trace to its last."""

    interval_seconds: int
    start_ms: int  # the first trace's time
    end_ms: int  # the last trace's time
    counts: list[DataPoint]  # trace_count COUNT by time_bucket and trace_status
    latency: list[DataPoint]  # latency P50 and P95 by time_bucket
    tokens: list[DataPoint]  # total_tokens SUM by time_bucket (none without token usage)


# The overview is four aggregates over every trace of the experiment (a second at 50,000 traces on
# SQLite): a process keeps each experiment's for a while, and only while the traces' time range,
# number and newest row are what they were. A trace that changes state or gains token usage in
# place shows at the latest TRACE_METRICS_CACHE_SECONDS later.
_overviews: TimedCache[Overview] = TimedCache(
    max_entries=256, seconds=lambda: settings.TRACE_METRICS_CACHE_SECONDS
)


def forget_overviews() -> None:
    _overviews.clear()


def trace_metrics_overview(experiment: Experiment) -> Overview | None:
    """What the Traces tab charts, by the same queries as QueryTraceMetrics: the traces' shape (one
    index-only aggregate), then, unless this process has it, one statement per chart. None for an
    experiment without traces."""
    times = Trace.objects.filter(experiment=experiment).aggregate(
        first=Min("request_time"), last=Max("request_time"), count=Count("pk"), newest=Max("pk")
    )
    if times["first"] is None:
        return None
    key = (experiment.pk, times["first"], times["last"], times["count"], times["newest"])
    found = _overviews.get(key)
    if found is MISSING:
        found = _overview(experiment, datetime_to_ms(times["first"]), datetime_to_ms(times["last"]))
        _overviews.put(key, found)
    return found


def _overview(experiment: Experiment, start: int, end: int) -> Overview:
    interval = next(
        (s for s in OVERVIEW_INTERVALS if end // (s * 1000) - start // (s * 1000) < OVERVIEW_BUCKETS),
        OVERVIEW_INTERVALS[-1],
    )

    def points(
        metric: str, aggregations: tuple[Aggregation, ...], dimensions: tuple[str, ...] = ()
    ) -> list[DataPoint]:
        query = MetricsQuery(
            view_type="TRACES",
            metric_name=metric,
            aggregations=aggregations,
            dimensions=dimensions,
            time_interval_seconds=interval,
            start_time_ms=start,
            end_time_ms=end,
            max_results=MAX_RESULTS_CAP,
        )
        return _data_points(experiment.workspace, [experiment.pk], query)

    return Overview(
        interval_seconds=interval,
        start_ms=start,
        end_ms=end,
        counts=points("trace_count", (Aggregation(COUNT),), ("trace_status",)),
        latency=points("latency", (Aggregation(PERCENTILE, 50.0), Aggregation(PERCENTILE, 95.0))),
        tokens=points("total_tokens", (Aggregation(SUM),)),
    )
