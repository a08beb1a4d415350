"""Metric histories: whole, paged, and evenly sampled across many runs."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import F, Q

from tracking.errors import InvalidParameterValue
from tracking.models import Metric, Run, Workspace
from tracking.raw_sql import one_of
from tracking.search.paging import decode_token, encode_token, int64
from tracking.validation import SEE_THE_DOCS, check_id_count

MAX_HISTORY_PAGE = 25000
MAX_RUNS_PER_BULK_INTERVAL = 100
MAX_POINTS_PER_RUN_INTERVAL = 2500

# (value or None for NaN, timestamp, step)
HistoryRow = tuple[float | None, int, int]


@dataclass
class HistoryPage:
    points: list[HistoryRow]
    next_page_token: str | None


def get_metric_history(
    workspace: Workspace,
    run_id: str,
    key: str,
    *,
    max_results: int | None = None,
    page_token: str | None = None,
) -> HistoryPage:
    """A metric's points in MLflow's order (timestamp, step), paged by a position token.

    An unknown run or key gives an empty history, as MLflow's server answers.
    """
    if max_results is not None and max_results <= 0:
        raise InvalidParameterValue(f"max_results must be positive, got {max_results}.")
    run_pk = (
        Run.objects.filter(uuid=run_id, experiment__workspace=workspace).values_list("pk", flat=True).first()
    )
    if run_pk is None:
        return HistoryPage([], None)
    points = Metric.objects.filter(run_id=run_pk, key=key)
    position = decode_token(page_token)
    if position:
        points = points.filter(_after(position, page_token))
    # MLflow's order: timestamp, step, value (NaN first); the pk settles exact ties.
    rows = points.order_by("timestamp", "step", F("value").asc(nulls_first=True), "pk").values_list(
        "value", "timestamp", "step", "pk"
    )
    if max_results is not None:
        rows = rows[: max_results + 1]
    rows = list(rows)
    next_token = None
    if max_results is not None and len(rows) > max_results:
        rows = rows[:max_results]
        value, timestamp, step, last_pk = rows[-1]
        next_token = encode_token(t=timestamp, s=step, v=value, i=last_pk)
    return HistoryPage([row[:3] for row in rows], next_token)


def _after(position: dict, page_token: str | None) -> Q:
    """Points after the last one sent, in history order.

    Keyset paging: each page starts where the last ended, without reading the points before
    it again (MLflow's offset paging re-reads them all for every page of a long history).
    """
    try:
        timestamp, step, last_pk = (int64(position[name]) for name in ("t", "s", "i"))
        value = position["v"]
        if value is not None:
            value = float(value)
    except (KeyError, TypeError, ValueError, OverflowError):
        raise InvalidParameterValue(f"Invalid page token for the metric history: {page_token!r}") from None
    if value is None:
        later_value = Q(value__isnull=False)
        same_value = Q(value__isnull=True)
    else:
        later_value = Q(value__gt=value)
        same_value = Q(value=value)
    same_step = Q(timestamp=timestamp, step=step)
    return (
        Q(timestamp__gt=timestamp)
        | Q(timestamp=timestamp, step__gt=step)
        | (same_step & later_value)
        | (same_step & same_value & Q(pk__gt=last_pk))
    )


MAX_RUNS_PER_BULK = 100


def get_metric_history_bulk(
    workspace: Workspace, run_ids: list[str], key: str | None, *, max_results: int = MAX_HISTORY_PAGE
) -> list[tuple[str, float | None, int, int]]:
    """A metric's whole history for several runs (MLflow's UI route get-history-bulk): runs in
    id order, each in history order, at most `max_results` points in all; one query.

    Returns (run id, value, timestamp, step) rows; runs of other workspaces are not there.
    """
    check_id_count(run_ids, limit=MAX_RUNS_PER_BULK, request="GetMetricHistoryBulk", field="run_id")
    if key is None:
        raise InvalidParameterValue("GetMetricHistoryBulk request must specify a metric_key.")
    if max_results <= 0:
        raise InvalidParameterValue(f"max_results must be positive, got {max_results}.")
    points = Metric.objects.filter(run__uuid__in=run_ids, run__experiment__workspace=workspace, key=key)
    rows = points.order_by(
        "run__uuid", "timestamp", "step", F("value").asc(nulls_first=True), "pk"
    ).values_list("run__uuid", "value", "timestamp", "step")
    return list(rows[: min(max_results, MAX_HISTORY_PAGE)])


def get_metric_history_sampled(
    workspace: Workspace,
    run_ids: list[str],
    key: str,
    *,
    max_results: int = MAX_POINTS_PER_RUN_INTERVAL,
    start_step: int | None = None,
    end_step: int | None = None,
) -> list[tuple[str, float | None, int, int]]:
    """Up to `max_results` points per run, evenly spread over the run's points ordered by step,
    always keeping the first and the last; one query for all runs.

    Returns (run id, value, timestamp, step) rows.
    """
    if not run_ids:
        raise InvalidParameterValue(f"Missing value for required parameter 'run_ids'.{SEE_THE_DOCS}")
    if len(run_ids) > MAX_RUNS_PER_BULK_INTERVAL:
        raise InvalidParameterValue(
            f"GetMetricHistoryBulkInterval request must specify at most {MAX_RUNS_PER_BULK_INTERVAL} run_ids. "
            f"Received {len(run_ids)} run_ids.{SEE_THE_DOCS}"
        )
    if not 1 <= max_results <= MAX_POINTS_PER_RUN_INTERVAL:
        raise InvalidParameterValue(
            f"max_results must be between 1 and {MAX_POINTS_PER_RUN_INTERVAL}.{SEE_THE_DOCS}"
        )
    if (start_step is None) != (end_step is None):
        raise InvalidParameterValue("If either start step or end step are specified, both must be specified.")
    if start_step is not None and start_step > end_step:
        raise InvalidParameterValue(
            f"end_step must be greater than start_step. Found start_step={start_step} and end_step={end_step}."
        )
    runs = dict(
        Run.objects.filter(uuid__in=run_ids, experiment__workspace=workspace).values_list("pk", "uuid")
    )
    if not runs:
        return []
    q = connection.ops.quote_name
    step_filter = f"AND {q('step')} BETWEEN %s AND %s" if start_step is not None else ""
    is_one_of_runs, run_params = one_of(list(runs))
    # Point i of n is kept when floor(k*(n-1)/(m-1)) = i for some k, i.e. when some multiple
    # of n-1 lies in [i*(m-1), (i+1)*(m-1)): ceil(i*(m-1)/(n-1)) <= floor(((i+1)*(m-1)-1)/(n-1)).
    # Integer division does the rounding; the first and last points always qualify.
    sql = f"""
        SELECT {q("run_id")}, {q("value")}, {q("timestamp")}, {q("step")} FROM (
            SELECT {q("run_id")}, {q("value")}, {q("timestamp")}, {q("step")},
                   ROW_NUMBER() OVER (PARTITION BY {q("run_id")} ORDER BY {q("step")}, {q("timestamp")}, {q("id")}) - 1
                       AS i,
                   COUNT(*) OVER (PARTITION BY {q("run_id")}) AS n
            FROM {q(Metric._meta.db_table)}
            WHERE {q("run_id")} {is_one_of_runs} AND {q("key")} = %s {step_filter}
        ) sampled
        WHERE (%s = 1 AND i = n - 1)
           OR (%s > 1 AND (n <= %s OR ((i + 1) * (%s - 1) - 1) / (n - 1) >= (i * (%s - 1) + n - 2) / (n - 1)))
        ORDER BY run_id, i
    """
    params: list = [*run_params, key]
    if start_step is not None:
        params += [start_step, end_step]
    params += [max_results] * 5
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    order = {run_id: index for index, run_id in enumerate(run_ids)}
    sampled = [(runs[run_pk], value, timestamp, step) for run_pk, value, timestamp, step in rows]
    sampled.sort(key=lambda row: order.get(row[0], 0))
    return sampled
