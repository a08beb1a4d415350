"""Writing imported metric points in bulk, and the per-key summaries with them.

Points go in through `metric_points.insert_points` (one multi-row INSERT ... ON CONFLICT DO
NOTHING, which skips points stored already), except where nothing can be there yet: the points of
a run created by this import, on PostgreSQL, are streamed with COPY. A file can repeat a line
(MLflow 3 logs a run's metrics again when it logs a model), and COPY has no ON CONFLICT, so the
COPY runs in a savepoint and a batch that hits a duplicate is written again through the INSERT.

Most of a COPY's cost on PostgreSQL is the foreign-key trigger, which looks the run up once per
point. Where the database role may set `session_replication_role` (a superuser, like the
docker-compose one, or a role granted SET on it), the COPY runs with that trigger off, and the
run's row is locked FOR KEY SHARE once instead: the same guarantee (the run exists and cannot go
away before the commit) for one statement instead of one per point.

NaN is stored as NULL, and NULLs never collide in a unique index: a NaN point logged twice would
be stored twice. So NaN points are de-duplicated here, against those seen in the file and, for a
run that was here before, those in the database.

Summaries are folded from each batch's extreme points (the latest one, the lowest, the highest)
with `update_summaries`, in the transaction that stores the points.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from contextlib import suppress
from itertools import compress, filterfalse, repeat
from math import isnan
from operator import itemgetter

from django.db import IntegrityError, connection, transaction
from psycopg.copy import QueuedLibpqWriter

from tracking.models import Metric, MetricSummary, Run
from tracking.services.metric_points import MetricPoint, _sort_key, insert_points, update_summaries

from .report import Report

_STEP_TIME = itemgetter(3, 2)
_VALUE = itemgetter(1)
_TIMESTAMP = itemgetter(2)
_STEP = itemgetter(3)
_DATASET = itemgetter(5)
_COPY_COLUMNS = ("run_id", "key", "value", "timestamp", "step", "dataset_name", "dataset_digest")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"  # COPY's NULL
_may_skip_fk_trigger: dict[tuple, bool] = {}


def extremes(points: list[MetricPoint], values: list[float] | None = None) -> list[MetricPoint]:
    """The points a summary needs: the latest (MLflow's order), the lowest and the highest number.

    Done with C-level scans (map, max, count, index): this runs over every imported point.
    """
    order = list(map(_STEP_TIME, points))
    top = max(order)
    if order.count(top) == 1:
        latest = points[order.index(top)]
    else:  # several points at the same step and time: the value decides, numbers before NaN
        latest = max((point for point in points if _STEP_TIME(point) == top), key=_sort_key)
    values = values if values is not None else list(map(_VALUE, points))
    numbers = list(filterfalse(isnan, values))
    if not numbers:
        return [latest]
    return [latest, points[values.index(min(numbers))], points[values.index(max(numbers))]]


class RunPoints:
    """The points of one run on their way in: NaN de-duplication, summaries, counts."""

    def __init__(self, run_pk: int, *, fresh: bool) -> None:
        self.run_pk, self.fresh = run_pk, fresh
        self.stored_counts: dict[str, int] = {}
        self.nan_seen: dict[str, set[tuple[int, int]]] = defaultdict(set)
        if not fresh:
            self.stored_counts = dict(MetricSummary.objects.filter(run_id=run_pk).values_list("key", "count"))
            nans = Metric.objects.filter(run_id=run_pk, value__isnull=True).values_list(
                "key", "timestamp", "step"
            )
            for key, timestamp, step in nans:
                self.nan_seen[key].add((timestamp, step))
        self.pending: dict[str, list[MetricPoint]] = {}  # key -> extreme points not yet summarised
        self.new: Counter[str] = Counter()

    def without_repeated_nans(self, points: list[MetricPoint]) -> list[MetricPoint]:
        # NaN points are few: find them with a C-level scan, then look at them alone.
        repeated = set()
        for index in compress(range(len(points)), map(isnan, map(_VALUE, points))):
            point = points[index]
            seen = self.nan_seen[point.key]
            if (point.timestamp, point.step) in seen:
                repeated.add(index)
            else:
                seen.add((point.timestamp, point.step))
        if not repeated:
            return points
        return [point for index, point in enumerate(points) if index not in repeated]

    def summarise(self) -> None:
        """Folds the points written since the last call into the run's summaries (same transaction)."""
        if self.pending:
            points = [point for group in self.pending.values() for point in group]
            update_summaries(self.run_pk, points, self.new)
        self.pending, self.new = {}, Counter()


class MetricSink:
    """Where the metric points of one chunk of runs go, transaction after transaction.

    `before_commit` and `abort` belong in the chunk's transactions (`Steps`): the first ends the
    COPY stream and brings the summaries up to date, the second ends a COPY left open by an error.
    """

    def __init__(self, report: Report) -> None:
        self.report = report
        self.runs: dict[int, RunPoints] = {}
        self.stream = CopyStream(self) if connection.vendor == "postgresql" else None

    def run(self, run_pk: int, *, fresh: bool) -> RunPoints:
        self.runs[run_pk] = RunPoints(run_pk, fresh=fresh)
        return self.runs[run_pk]

    def write(self, run: RunPoints, points: list[MetricPoint], *, whole_key: bool) -> int:
        """Stores a batch of points of one key of `run`; returns how many were new.

        `whole_key`: the batch is all of the key's file, so duplicates can be dropped here and the
        batch can join the COPY stream.
        """
        values = list(map(_VALUE, points))
        if any(map(isnan, values)):
            points = run.without_repeated_nans(points)
            if not points:
                return 0
            values = list(map(_VALUE, points))
        if run.fresh and whole_key and self.stream is not None:
            unique = set(zip(map(_STEP_TIME, points), values, strict=True))
            if len(unique) < len(points):
                points = _first_of_each(points)
                values = list(map(_VALUE, points))
            self.stream.add(run.run_pk, points)
            new = len(points)
        else:
            self.finish_stream()
            new = _store(run.run_pk, points, fresh=run.fresh)
        key = points[0].key
        run.new[key] += new
        run.pending[key] = extremes(run.pending.get(key, []) + extremes(points, values))
        return new

    def finish_stream(self) -> None:
        """Ends the COPY stream (if one is open) before another statement or the commit."""
        if self.stream is None:
            return
        for run_pk, points in self.stream.finish():  # it collided: someone wrote to these runs
            key = points[0].key
            missing = len(points) - insert_points(run_pk, points)[key]
            self.runs[run_pk].new[key] -= missing
            self.report.wrote("metrics", -missing)

    def before_commit(self) -> None:
        self.finish_stream()
        for run in self.runs.values():
            run.summarise()

    def abort(self) -> None:
        if self.stream is not None:
            self.stream.abort()


class CopyStream:
    """One COPY kept open across batches of many runs (PostgreSQL, runs this import created).

    Batches are formatted in this thread while psycopg's writer thread sends the previous ones and
    the server stores them, so reading files and storing points overlap. It runs in a savepoint:
    should a point collide after all (a client logging to a run it was just given), the batches go
    back to the sink, which writes them with INSERT ... ON CONFLICT DO NOTHING.
    """

    def __init__(self, sink: MetricSink) -> None:
        self.sink = sink
        self._copy = self._context = self._cursor = self._savepoint = None
        self._batches: list[tuple[int, list[MetricPoint]]] = []
        self._replica = False

    def add(self, run_pk: int, points: list[MetricPoint]) -> None:
        if self._copy is None:
            self._open()
        self._copy.write(_copy_text(run_pk, points))
        self._batches.append((run_pk, points))

    def _open(self) -> None:
        self._savepoint = transaction.savepoint()
        self._cursor = connection.cursor()
        raw = self._cursor.cursor
        with connection.wrap_database_errors:
            self._replica = _skip_fk_trigger(raw)
            if self._replica:
                _lock_runs(raw, [pk for pk, run in self.sink.runs.items() if run.fresh])
                raw.execute("SET LOCAL session_replication_role = replica")
            self._context = raw.copy(_copy_statement(), writer=QueuedLibpqWriter(raw))
            self._copy = self._context.__enter__()

    def finish(self) -> list[tuple[int, list[MetricPoint]]]:
        """Ends the COPY; returns the batches to write again if it collided, else []."""
        if self._copy is None:
            return []
        batches = self._batches
        try:
            with connection.wrap_database_errors:
                context, self._copy = self._context, None
                context.__exit__(None, None, None)
                if self._replica:
                    self._cursor.cursor.execute("SET LOCAL session_replication_role = DEFAULT")
        except IntegrityError:
            transaction.savepoint_rollback(self._savepoint)
            self._reset()
            return batches
        transaction.savepoint_commit(self._savepoint)
        self._reset()
        return []

    def abort(self) -> None:
        """Ends a COPY left open by an error, so that the transaction can be rolled back."""
        if self._copy is not None:
            context, self._copy = self._context, None
            error = RuntimeError("import chunk aborted")
            with suppress(Exception):  # the transaction is being rolled back anyway
                context.__exit__(RuntimeError, error, None)
        self._reset()

    def _reset(self) -> None:
        if self._cursor is not None:
            self._cursor.close()
        self._copy = self._context = self._cursor = self._savepoint = None
        self._batches = []


def _first_of_each(points: list[MetricPoint]) -> list[MetricPoint]:
    seen: set = set()
    kept = []
    for point in points:
        identity = (point.step, point.timestamp, point.value)
        if identity not in seen:
            seen.add(identity)
            kept.append(point)
    return kept


def _store(run_pk: int, points: list[MetricPoint], *, fresh: bool) -> int:
    """One batch on its own: COPY for a run created by this import on PostgreSQL, else INSERT."""
    if fresh and connection.vendor == "postgresql":
        try:
            # In a savepoint: a duplicate line undoes this batch only.
            with transaction.atomic(), connection.cursor() as cursor, connection.wrap_database_errors:
                raw = cursor.cursor
                replica = _skip_fk_trigger(raw)
                if replica:
                    _lock_runs(raw, [run_pk])
                    raw.execute("SET LOCAL session_replication_role = replica")
                with raw.copy(_copy_statement()) as copy:
                    copy.write(_copy_text(run_pk, points))
                if replica:
                    raw.execute("SET LOCAL session_replication_role = DEFAULT")
            return len(points)
        except IntegrityError:
            pass
    return sum(insert_points(run_pk, points).values())


def _lock_runs(cursor, run_pks: list[int]) -> None:
    """What the foreign-key trigger would do, once per run instead of once per point."""
    table = connection.ops.quote_name(Run._meta.db_table)
    cursor.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE id = ANY(%s) FOR KEY SHARE) AS locked", [run_pks]
    )
    if cursor.fetchone()[0] != len(set(run_pks)):
        raise IntegrityError("a run being imported was deleted meanwhile")


def _copy_statement() -> str:
    q = connection.ops.quote_name
    return f"COPY {q(Metric._meta.db_table)} ({', '.join(q(column) for column in _COPY_COLUMNS)}) FROM STDIN"


def _copy_text(run_pk: int, points: list[MetricPoint]) -> str:
    """Rows in COPY's text form: one string per batch is far cheaper than a row at a time."""
    prefix = f"{run_pk}\t{points[0].key.translate(_COPY_ESCAPES)}\t"
    if set(map(_DATASET, points)) == {None}:
        # Column by column with C-level maps: this runs over every imported point. NaN is
        # stored as NULL; the value is the only column where a tab-delimited "nan" can be.
        text = "".join(
            map(
                "".join,
                zip(
                    repeat(prefix),
                    map(repr, map(_VALUE, points)),
                    repeat("\t"),
                    map(str, map(_TIMESTAMP, points)),
                    repeat("\t"),
                    map(str, map(_STEP, points)),
                    repeat(f"\t{_NULL}\t{_NULL}\n"),
                ),
            )
        )
        return text.replace("\tnan\t", f"\t{_NULL}\t")
    return "".join(
        [
            f"{prefix}{_NULL if p.value != p.value else repr(p.value)}\t{p.timestamp}\t{p.step}\t"
            f"{_text(p.dataset_name)}\t{_text(p.dataset_digest)}\n"
            for p in points
        ]
    )


def _text(value: str | None) -> str:
    return _NULL if value is None else value.translate(_COPY_ESCAPES)


def _skip_fk_trigger(cursor) -> bool:
    """Whether this role may turn triggers off for its session (asked once per database and role)."""
    settings = connection.settings_dict
    identity = (settings.get("HOST"), settings.get("PORT"), settings.get("NAME"), settings.get("USER"))
    if identity not in _may_skip_fk_trigger:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        allowed = bool(cursor.fetchone()[0])
        if not allowed and connection.pg_version >= 150000:
            cursor.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")
            allowed = bool(cursor.fetchone()[0])
        _may_skip_fk_trigger[identity] = allowed
    return _may_skip_fk_trigger[identity]
