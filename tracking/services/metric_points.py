"""Writing metric points and keeping each run's per-key summary current.

This is the hottest write path (every `log_metric`, 1,000 points per `log_batch`), so it speaks
SQL directly: one multi-row INSERT for the points and one upsert per key for the summaries,
instead of building a model object per point. Both statements run inside the caller's
transaction. On PostgreSQL they are one statement, with the keys' registration (`record_points`
there is a single round trip, atomic by itself: `log_metric` needs no BEGIN and COMMIT around it).

Points have no foreign key to their run in the database: PostgreSQL checks such a key with a
query per row (a third of a batch's INSERT). The INSERT itself makes sure the run is there: it
takes the run's id from the run's row, which it locks on PostgreSQL (FOR KEY SHARE: a deletion
locks its runs first, so either it waits for the INSERT, or the INSERT waits for it and then
finds no run); SQLite runs one writer at a time. Points for a run gone since the caller looked it
up are RESOURCE_DOES_NOT_EXIST.
"""

from __future__ import annotations

import math
from collections import Counter
from functools import lru_cache
from itertools import chain
from operator import attrgetter
from typing import NamedTuple

import orjson
from django.db import IntegrityError, connection, transaction

from tracking.key_registry import METRIC, prune_keys, register_keys, registering_metric_keys
from tracking.models import Experiment, LoggedModel, LoggedModelMetric, Metric, MetricSummary, Run
from tracking.models.experiments import ACTIVE
from tracking.queries.runs import RunRef, run_not_found
from tracking.run_changes import note_runs_changed


class MetricPoint(NamedTuple):
    # A tuple, not a dataclass: a batch builds a thousand of them per call.
    key: str
    value: float  # may be NaN or infinite
    timestamp: int
    step: int
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


_POINT_COLUMNS = ("run_id", "key", "value", "timestamp", "step", "model_id", "dataset_name", "dataset_digest")
# SQLite allows 32,766 bound variables per statement: a batch's 1,000 points (7 each) fit in one.
_ROWS_PER_INSERT = 1000
_PG_ARRAYS = ", ".join(
    f"%s::{kind}[]" for kind in ("varchar", "float8", "bigint", "bigint", "varchar", "varchar", "varchar")
)


def _stored(value: float) -> float | None:
    # float(): PostgreSQL's array parameters need one type, and callers may pass ints.
    return None if math.isnan(value) else float(value)


def insert_points(
    run_pk: int, points: list[MetricPoint], *, registering_in: int | None = None
) -> Counter[str]:
    """Inserts the points not stored yet; returns how many were new, per key. With
    `registering_in` (the run's experiment) the points' keys are registered too."""
    inserted: Counter[str] = Counter()
    if registering_in is not None:
        register_keys(registering_in, metrics=_keys(points))
    if connection.vendor == "postgresql":
        # One array per column: eight parameters whatever the batch size, where a VALUES
        # list would send and parse eight thousand (it measured 2-4 times slower here).
        select, params = _points_select(points)
        into, returning = _points_insert()
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH {_locked_run()} {into}{select} ON CONFLICT DO NOTHING{returning}", [run_pk, *params]
            )
            inserted.update(key for (key,) in cursor.fetchall())
        return inserted
    connection.ensure_connection()
    # SQLite: a MetricPoint is the row's columns after run_id, which is parameter ?1 of every row,
    # so the parameters are the points flattened (in C) behind it. They go to sqlite3 as they are:
    # Django's cursor would first rewrite each of the statement's 7,000 placeholders (a
    # millisecond per batch), and sqlite3 keeps the statement prepared. SQLite stores NaN as NULL.
    for start in range(0, len(points), _ROWS_PER_INSERT):
        chunk = points[start : start + _ROWS_PER_INSERT]
        with connection.wrap_database_errors:
            found = connection.connection.execute(
                _sqlite_insert(len(chunk)), [run_pk, *chain.from_iterable(chunk)]
            ).fetchall()
        inserted.update(key for (key,) in found)
    return inserted


@lru_cache(maxsize=1)
def _points_insert() -> tuple[str, str]:
    """The INSERT of points around their rows (a SELECT): what comes before them, and the
    RETURNING after (which follows an ON CONFLICT clause, if any)."""
    q = connection.ops.quote_name
    return (
        f"INSERT INTO {q(Metric._meta.db_table)} ({', '.join(q(c) for c in _POINT_COLUMNS)}) ",
        f" RETURNING {q('key')}",
    )


@lru_cache(maxsize=2)
def _locked_run(if_active: bool = False) -> str:
    """PostgreSQL: the CTE `run_locked`, the row of the run whose pk is its parameter (if the run
    is active, with `if_active`), locked against its deletion until the statement's transaction
    ends."""
    q = connection.ops.quote_name
    active = f" AND lifecycle_stage = '{ACTIVE}'" if if_active else ""
    return f"run_locked AS (SELECT id FROM {q(Run._meta.db_table)} WHERE id = %s{active} FOR KEY SHARE)"


@lru_cache(maxsize=8)
def _sqlite_insert(rows: int) -> str:
    """SQLite: the INSERT of `rows` points, whose run's pk is ?1, if that run is there."""
    into, returning = _points_insert()
    q = connection.ops.quote_name
    row = "(?1, " + ", ".join(["?"] * (len(_POINT_COLUMNS) - 1)) + ")"
    return (
        f"{into}SELECT * FROM (VALUES {', '.join([row] * rows)}) "
        f"WHERE EXISTS (SELECT 1 FROM {q(Run._meta.db_table)} WHERE id = ?1) "
        f"ON CONFLICT DO NOTHING{returning}"
    )


def _point_arrays(points: list[MetricPoint]) -> list[list]:
    """PostgreSQL: the points as one array per column of _POINT_COLUMNS after run_id, for unnest()."""
    return [list(c) for c in zip(*((p.key, _stored(p.value), *p[2:]) for p in points), strict=True)]


def _value_text(value: float) -> str:
    """A value as an element of a float8[] literal: NaN is stored as NULL, as `_stored` does."""
    if math.isnan(value):
        return "NULL"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(float(value))


def _points_select(points: list[MetricPoint]) -> tuple[str, list]:
    """PostgreSQL: a SELECT of the points' rows (the columns of _POINT_COLUMNS, run_id from the
    run's locked row, `run_locked`) and its parameters.

    psycopg writes a list parameter element by element in Python (a thousand points' eight
    arrays took 6 ms, more than the database's work), so the usual batch, points without a model
    or dataset, goes as array literals written in C (`_array_literal`): values, timestamps and steps,
    and an index into the batch's few distinct keys, which travel as an ordinary array (a key's
    text is never part of a literal). Points with a model or dataset use `_point_arrays`.
    """
    if any(point.model_id or point.dataset_name or point.dataset_digest for point in points):
        return f"SELECT r.id, p.* FROM run_locked r, unnest({_PG_ARRAYS}) AS p", _point_arrays(points)
    keys = _keys(points)
    index_of = {key: index for index, key in enumerate(keys, start=1)}
    values = list(map(_VALUE, points))
    return (
        "SELECT r.id, k.keys[p.i], p.v, p.ts, p.st, NULL, NULL, NULL "
        "FROM run_locked r, (SELECT %s::varchar[] AS keys) k, "
        "unnest(%s::int[], %s::float8[], %s::bigint[], %s::bigint[]) AS p(i, v, ts, st)",
        [
            keys,
            _array_literal(list(map(index_of.__getitem__, map(_KEY, points)))),
            _array_literal(values)
            if all(map(math.isfinite, values))
            else "{" + ",".join(map(_value_text, values)) + "}",
            _array_literal(list(map(_TIMESTAMP, points))),
            _array_literal(list(map(_STEP, points))),
        ],
    )


_KEY, _VALUE, _TIMESTAMP, _STEP = map(attrgetter, ("key", "value", "timestamp", "step"))


def _array_literal(numbers: list) -> str:
    """Finite numbers as a PostgreSQL array literal: JSON's list of numbers (written by orjson, in
    C, each double in its shortest exact form) is one once its brackets become braces."""
    return "{" + orjson.dumps(numbers)[1:-1].decode() + "}"


def _keys(points: list[MetricPoint]) -> list[str]:
    return list(dict.fromkeys(point.key for point in points))


def _sort_key(point: MetricPoint) -> tuple:
    # MLflow's "latest": highest step, then timestamp, then value; any number beats NaN.
    nan = math.isnan(point.value)
    return (point.step, point.timestamp, not nan, 0.0 if nan else point.value)


# Without NaN, "latest" is the highest (step, timestamp, value): a key in C for a batch's points.
_LATEST_WITHOUT_NAN = attrgetter("step", "timestamp", "value")


def summarise(points: list[MetricPoint], new_counts: Counter[str]) -> list[tuple]:
    """Per key: (key, latest value, its timestamp, its step, min, max, new points), NaN as None."""
    if len({point.key for point in points}) == 1:
        by_key = {points[0].key: points}  # a batch of one key (a history's chunk): no grouping
    else:
        by_key = {}
        for point in points:
            by_key.setdefault(point.key, []).append(point)
    rows = []
    for key, group in by_key.items():
        values = [point.value for point in group]
        if any(map(math.isnan, values)):
            latest = max(group, key=_sort_key)
            numbers = [float(value) for value in values if not math.isnan(value)]  # one type, as _stored
        else:
            latest = max(group, key=_LATEST_WITHOUT_NAN)
            numbers = list(map(float, values))
        rows.append(
            (
                key,
                _stored(latest.value),
                latest.timestamp,
                latest.step,
                min(numbers) if numbers else None,
                max(numbers) if numbers else None,
                new_counts.get(key, 0),
            )
        )
    return rows


_SUMMARY_COLUMNS = ("run_id", "key", "value", "timestamp", "step", "min_value", "max_value", "count")


@lru_cache(maxsize=1)  # a process speaks to one database; log_metric builds these on every call
def _upsert_sql() -> str:
    q = connection.ops.quote_name
    return (
        f"INSERT INTO {q(MetricSummary._meta.db_table)} ({', '.join(q(c) for c in _SUMMARY_COLUMNS)}) "
        f"VALUES ({', '.join(['%s'] * len(_SUMMARY_COLUMNS))}) {_on_summary_conflict()}"
    )


@lru_cache(maxsize=1)
def _on_summary_conflict() -> str:
    """The upsert's ON CONFLICT clause: the latest point wins, min and max widen, counts add up."""
    q = connection.ops.quote_name
    table = q(MetricSummary._meta.db_table)

    def current(column: str) -> str:
        return f"{table}.{q(column)}"

    newer = (
        f"(excluded.step > {current('step')} OR (excluded.step = {current('step')} AND "
        f"(excluded.timestamp > {current('timestamp')} OR (excluded.timestamp = {current('timestamp')} AND "
        f"excluded.value IS NOT NULL AND ({current('value')} IS NULL OR excluded.value >= {current('value')})))))"
    )

    def pick(column: str) -> str:
        return f"{q(column)} = CASE WHEN {newer} THEN excluded.{q(column)} ELSE {current(column)} END"

    def bound(column: str, comparison: str) -> str:
        mine, theirs = current(column), f"excluded.{q(column)}"
        return (
            f"{q(column)} = CASE WHEN {mine} IS NULL THEN {theirs} WHEN {theirs} IS NULL THEN {mine} "
            f"WHEN {theirs} {comparison} {mine} THEN {theirs} ELSE {mine} END"
        )

    return (
        f"ON CONFLICT ({q('run_id')}, {q('key')}) DO UPDATE SET "
        # The CASEs read the row's values before this update, so `value` and `timestamp` are
        # decided before `step` changes.
        f"{pick('value')}, {pick('timestamp')}, {pick('step')}, "
        f"{bound('min_value', '<')}, {bound('max_value', '>')}, "
        f"{q('count')} = {current('count')} + excluded.{q('count')}"
    )


def update_summaries(run_pk: int, points: list[MetricPoint], new_counts: Counter[str]) -> None:
    rows = [(run_pk, *row) for row in summarise(points, new_counts)]
    with connection.cursor() as cursor:
        cursor.executemany(_upsert_sql(), rows)


def record_points(run: Run, points: list[MetricPoint]) -> None:
    """Stores the points, folds them into the run's summaries and registers their keys in the
    run's experiment (call inside a transaction; on PostgreSQL it is one statement, which needs
    none: see `records_points_in_one_statement`)."""
    if not points:
        return
    if records_points_in_one_statement():
        if not _record_points_in_one_statement(run, points):
            raise run_not_found(run.uuid)
        return
    inserted = insert_points(run.pk, points, registering_in=run.experiment_id)
    # Nothing new: every point was stored already, or the run is gone (SQLite: the INSERT took
    # the write lock, so what this reads stays true until the transaction ends).
    if not inserted and not Run.objects.filter(pk=run.pk).exists():
        raise run_not_found(run.uuid)
    update_summaries(run.pk, points, inserted)


def records_points_in_one_statement() -> bool:
    """Whether `record_points` is a single statement here (PostgreSQL: data-modifying CTEs),
    and so atomic without a transaction around it."""
    return connection.vendor == "postgresql"


_PG_SUMMARY_ARRAYS = ", ".join(
    f"%s::{kind}[]" for kind in ("varchar", "float8", "bigint", "bigint", "float8", "float8")
)


def _record_points_in_one_statement(
    run: Run | RunRef, points: list[MetricPoint], *, if_active: bool = False
) -> bool:
    """PostgreSQL: keys, points and summaries in one round trip. The points' INSERT returns the
    keys of the points it stored; the summaries' upsert counts them per key, as `update_summaries`
    counts what `insert_points` returned. With `if_active`, nothing is stored unless the run is
    active; returns whether the run was there (and active).

    Outside a transaction the statement is first tried without ON CONFLICT: a point already
    stored (a client sending a batch again) fails it whole, and it runs again with the clause.
    PostgreSQL's ON CONFLICT inserts each row speculatively, which costs a third more."""
    registering, registering_params = registering_metric_keys(run.experiment_id, _keys(points))
    # (key, value, timestamp, step, min, max) per key; its new points are counted in SQL.
    summary_columns = [list(c) for c in zip(*(row[:-1] for row in summarise(points, Counter())), strict=True)]
    select, point_params = _points_select(points)
    into, returning = _points_insert()
    params = [*registering_params, run.pk, *point_params, *summary_columns]

    def statement(on_conflict: str) -> str:
        return (
            f"{registering}{_locked_run(if_active)}, inserted AS ({into}{select}{on_conflict}{returning}), "
            f"{_summaries_of_inserted()} SELECT 1 FROM run_locked"
        )

    with connection.cursor() as cursor:
        if connection.in_atomic_block:
            cursor.execute(statement(" ON CONFLICT DO NOTHING"), params)
        else:
            try:
                cursor.execute(statement(""), params)
            except IntegrityError as error:
                if getattr(getattr(error.__cause__, "diag", None), "constraint_name", None) != "metric_point":
                    raise
                cursor.execute(statement(" ON CONFLICT DO NOTHING"), params)
        return cursor.fetchone() is not None


def record_points_if_active(run: RunRef, points: list[MetricPoint]) -> bool:
    """PostgreSQL, outside a transaction: `record_points` for a run known by its `RunRef` alone,
    in one round trip, if the run is there and active; returns whether it was (if not, nothing
    was stored, and the caller looks the run up to say why)."""
    return _record_points_in_one_statement(run, points, if_active=True)


@lru_cache(maxsize=1)
def _summaries_of_inserted() -> str:
    """The CTEs `new_points` and `summaries` of `_record_points_in_one_statement`: the summaries'
    upsert, counting the keys that `inserted` returned."""
    q = connection.ops.quote_name
    return (
        f"new_points AS (SELECT {q('key')}, COUNT(*) AS n FROM inserted GROUP BY {q('key')}), "
        f"summaries AS (INSERT INTO {q(MetricSummary._meta.db_table)} ({', '.join(q(c) for c in _SUMMARY_COLUMNS)}) "
        f"SELECT r.id, s.k, s.v, s.ts, s.st, s.lo, s.hi, COALESCE(new_points.n, 0) "
        f"FROM run_locked r, unnest({_PG_SUMMARY_ARRAYS}) AS s(k, v, ts, st, lo, hi) "
        f"LEFT JOIN new_points ON new_points.{q('key')} = s.k {_on_summary_conflict()})"
    )


def record_model_points(run: Run, points: list[MetricPoint]) -> None:
    """Points logged with a model id also count as that logged model's metrics (MLflow 3).

    Only models of the run's own workspace: another workspace's model id is taken for one that
    does not exist (the points stay the run's), so no write reaches across workspaces."""
    with_model = [point for point in points if point.model_id]
    if not with_model:
        return
    model_pks = dict(
        LoggedModel.objects.filter(
            model_id__in={p.model_id for p in with_model},
            experiment__workspace_id=Experiment.objects.filter(pk=run.experiment_id).values("workspace_id")[
                :1
            ],
        ).values_list("model_id", "pk")
    )
    LoggedModelMetric.objects.bulk_create(
        [
            LoggedModelMetric(
                model_id=model_pks[p.model_id],
                key=p.key,
                value=_stored(p.value),
                timestamp=p.timestamp,
                step=p.step,
                run_id=run.uuid,
                dataset_name=p.dataset_name,
                dataset_digest=p.dataset_digest,
            )
            for p in with_model
            if p.model_id in model_pks
        ],
        ignore_conflicts=True,
    )


def delete_metric(run_pk: int, key: str) -> int:
    """Removes every point of the run's metric `key` and its summary, for good (MLflow cannot);
    returns the number of points removed. Logging the key again starts a new history."""
    with transaction.atomic():
        removed, _ = Metric.objects.filter(run_id=run_pk, key=key).delete()
        MetricSummary.objects.filter(run_id=run_pk, key=key).delete()
        experiment_pk = Run.objects.values_list("experiment_id", flat=True).get(pk=run_pk)
        prune_keys(experiment_pk, METRIC, [key])
        note_runs_changed([experiment_pk])
    return removed
