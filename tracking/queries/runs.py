"""Reading runs: single look-ups, bulk loading of their data, and search."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from tracking.errors import ResourceDoesNotExist
from tracking.models import (
    Dataset,
    Experiment,
    MetricSummary,
    Param,
    Run,
    RunInput,
    RunModelLink,
    RunTag,
    Workspace,
)
from tracking.raw_sql import aware, fetch_instance, fetch_rows, one_of, quote, table
from tracking.search.paging import cut_page, decode_offset
from tracking.search.runs import filter_and_order_runs
from tracking.timed_cache import MISSING, TimedCache
from tracking.validation import check_max_results

from .experiments import parse_experiment_number


# The run `r` belongs to the workspace: its experiment read by primary key. Joined on a filter of
# the experiments by workspace instead, PostgreSQL may plan (on statistics a bulk creation has made
# stale) to scan all of the workspace's experiments: 0.55 ms against 0.18 for 2,400 experiments.
@functools.cache
def _in_workspace() -> str:
    return f"(SELECT w.workspace_id FROM {table(Experiment)} w WHERE w.id = r.experiment_id) = %s"


def get_run(workspace: Workspace, run_id: str) -> Run:
    """The run with this id in this workspace, or RESOURCE_DOES_NOT_EXIST."""
    # Every write looks its run up first: plain SQL spares building the ORM query each time.
    run = fetch_instance(Run, "r", f"WHERE r.uuid = %s AND {_in_workspace()}", [run_id, workspace.pk])
    if run is None:
        raise run_not_found(run_id)
    _seen_runs.put((workspace.pk, run_id), RunRef(run.pk, run.uuid, run.experiment_id))
    return run


@dataclass(frozen=True, slots=True)
class RunRef:
    """What never changes in a run's life: its row and its experiment (a run deleted for good
    leaves its pk unused: both databases number rows without reusing numbers)."""

    pk: int
    uuid: str
    experiment_id: int


# (workspace pk, run id) -> RunRef, for the runs this process has looked up: a training loop's
# writes may then skip the look-up, their statement checking that the run is still there and
# active (tracking.services.runs.log_metric_to).
_seen_runs: TimedCache[RunRef] = TimedCache(max_entries=10_000, seconds=lambda: 3600.0)


def seen_run(workspace: Workspace, run_id: str) -> RunRef | None:
    """The run `get_run` found by this id in this workspace, if this process has looked it up."""
    found = _seen_runs.get((workspace.pk, run_id))
    return None if found is MISSING else found


@dataclass(slots=True)
class DatasetInputRecord:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str
    profile: str
    tags: list[tuple[str, str]]


@dataclass(slots=True)
class RunRecord:
    """A run with everything `GetRun` returns, loaded in a fixed number of queries."""

    pk: int
    run_id: str
    experiment_id: str
    name: str
    user_id: str
    status: str
    start_time: datetime
    end_time: datetime | None
    lifecycle_stage: str
    artifact_uri: str
    params: list[tuple[str, str]] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)
    # (key, value or None for NaN, timestamp, step)
    metrics: list[tuple[str, float | None, int, int]] = field(default_factory=list)
    dataset_inputs: list[DatasetInputRecord] = field(default_factory=list)
    model_inputs: list[str] = field(default_factory=list)
    model_outputs: list[tuple[str, int]] = field(default_factory=list)


def load_runs(run_pks: list[int]) -> list[RunRecord]:
    """The runs with these pks, in this order, with params, tags, metrics and inputs."""
    records: dict[int, RunRecord] = {}
    # Two queries per chunk; on SQLite the data query binds each pk five times (it allows 32,766).
    for start in range(0, len(run_pks), _RUNS_PER_CHUNK):
        condition, params = one_of(run_pks[start : start + _RUNS_PER_CHUNK])
        records.update(_with_data(_run_rows(f"r.id {condition}", params)))
    return [records[pk] for pk in run_pks if pk in records]


_RUNS_PER_CHUNK = 1000


def created_run_record(run: Run) -> RunRecord:
    """A run `tracking.services.runs.create_run` has just written, as `load_runs` would read it
    back, without reading: a new run holds its tags (`tag_list`) and nothing else yet."""
    return RunRecord(
        run.pk,
        run.uuid,
        str(run.experiment.number),
        run.name,
        run.user_id,
        run.status,
        run.start_time,
        run.end_time,
        run.lifecycle_stage,
        run.artifact_uri,
        tags=list(run.tag_list),
    )


def get_run_record(workspace: Workspace, run_id: str) -> RunRecord:
    """`get_run` and `load_runs` in one query: the run's row found by its id, joined to each of its
    data rows (or to one row of NULLs when it has none). A page of runs reads its rows and their
    data apart (`load_runs`), as a run's columns repeated on each of its data rows would cost more
    there than the round trip; for one run the round trip costs more."""
    rows = fetch_rows(_run_with_data_sql(), [run_id, workspace.pk])
    if not rows:
        raise run_not_found(run_id)
    width = len(_RUN_COLUMNS)
    record = _run_record(rows[0][:width])
    _fold_data({record.pk: record}, (row[width:] for row in rows if row[width] is not None))
    return record


def run_not_found(run_id: str) -> ResourceDoesNotExist:
    """MLflow's answer for a run id nothing matches (in this workspace)."""
    return ResourceDoesNotExist(f"Run with id={run_id} not found")


# PostgreSQL types a UNION's columns from its first branch: say what the NULLs stand for.
_NO_NUMBER = "CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT)"
_NO_TEXTS = ", ".join(["CAST(NULL AS TEXT)"] * 5)
_PARAM, _TAG, _METRIC, _DATASET, _MODEL_LINK = range(5)


def _with_data(rows: list[tuple]) -> dict[int, RunRecord]:
    """The runs of `_run_rows`, by pk, with their params, tags, latest metrics, dataset inputs
    and model links, read in one round trip (each costs one on PostgreSQL)."""
    records = {row[0]: _run_record(row) for row in rows}
    if records:
        condition, params = one_of(list(records))
        _fold_data(records, fetch_rows(_data_sql(condition), params * 5))
    return records


def _data_sql(run_condition: str) -> str:
    """The data rows of the runs whose pk meets `run_condition` (`one_of`'s, "= ..."). The child
    tables are read with plain SQL: for a page of runs the ORM's query building and row handling
    would cost more than the database does. Every branch has the same columns: kind, run, key,
    text, number, timestamp, step, and five texts for a dataset."""
    where = f"run_id {run_condition}"
    return (
        f"SELECT {_PARAM}, run_id, key, value, {_NO_NUMBER}, {_NO_TEXTS} FROM {table(Param)} WHERE {where} "
        f"UNION ALL SELECT {_TAG}, run_id, key, value, NULL, NULL, NULL, {_NO_TEXTS} FROM {table(RunTag)} "
        f"WHERE {where} UNION ALL SELECT {_METRIC}, run_id, key, NULL, value, {quote('timestamp')}, step, {_NO_TEXTS} "
        f"FROM {table(MetricSummary)} WHERE {where} UNION ALL "
        f"SELECT {_DATASET}, i.run_id, d.name, d.digest, NULL, NULL, NULL, d.source_type, d.source, "
        f"d.{quote('schema')}, d.profile, CAST(i.tags AS TEXT) FROM {table(RunInput)} i "
        f"JOIN {table(Dataset)} d ON d.id = i.dataset_id WHERE i.{where} UNION ALL "
        f"SELECT {_MODEL_LINK}, run_id, model_id, direction, NULL, NULL, step, {_NO_TEXTS} "
        f"FROM {table(RunModelLink)} WHERE {where}"
    )


def _fold_data(records: dict[int, RunRecord], data: Iterable[tuple]) -> None:
    """Adds each data row of `_data_sql` to its run's record."""
    for kind, run_pk, key, text, number, timestamp, step, *dataset in data:
        record = records[run_pk]
        if kind == _PARAM:
            record.params.append((key, text))
        elif kind == _TAG:
            record.tags.append((key, text))
        elif kind == _METRIC:
            record.metrics.append((key, number, timestamp, step))
        elif kind == _DATASET:
            source_type, source, schema, profile, tags = dataset
            record.dataset_inputs.append(
                DatasetInputRecord(
                    key, text, source_type, source, schema, profile, [tuple(t) for t in json.loads(tags)]
                )
            )
        elif text == RunModelLink.INPUT:
            record.model_inputs.append(key)
        else:
            record.model_outputs.append((key, step))


_RUN_COLUMNS = (
    "r.id", "r.uuid", "e.number", "r.name", "r.user_id", "r.status", "r.start_time", "r.end_time",
    "r.lifecycle_stage", "r.artifact_uri",
)  # fmt: skip


def _run_record(row: tuple) -> RunRecord:
    """A run's record from its `_RUN_COLUMNS`, with no data yet."""
    return RunRecord(*row[:2], str(row[2]), *row[3:6], aware(row[6]), aware(row[7]), *row[8:])


@functools.cache
def _selecting_runs() -> str:
    """The `_RUN_COLUMNS` of runs `r` (their experiment `e` joined), a WHERE clause to follow."""
    return f"SELECT {', '.join(_RUN_COLUMNS)} FROM {table(Run)} r JOIN {table(Experiment)} e ON e.id = r.experiment_id"


@functools.cache
def _run_with_data_sql() -> str:
    """`get_run_record`'s statement: the run found by its id in a workspace (two parameters),
    then its data rows beside it."""
    return (
        f"WITH found AS ({_selecting_runs()} WHERE r.uuid = %s AND {_in_workspace()}) "
        f"SELECT found.*, data.* FROM found LEFT JOIN ({_data_sql('= (SELECT id FROM found)')}) data ON TRUE"
    )


def _run_rows(where: str, params: list) -> list[tuple]:
    return fetch_rows(f"{_selecting_runs()} WHERE {where}", params)


@dataclass
class RunPage:
    runs: list[RunRecord]
    next_page_token: str | None


_VIEW_TYPES = {"ACTIVE_ONLY": ["active"], "DELETED_ONLY": ["deleted"], "ALL": ["active", "deleted"]}


def search_runs(
    workspace: Workspace,
    *,
    experiment_ids: list[str],
    filter_string: str = "",
    run_view_type: str = "ACTIVE_ONLY",
    max_results: int = 1000,
    order_by: list[str] | None = None,
    page_token: str | None = None,
) -> RunPage:
    check_max_results(max_results)
    offset = decode_offset(page_token)
    numbers = [parse_experiment_number(experiment_id) for experiment_id in experiment_ids]
    experiment_pks = _experiment_pks(workspace, numbers)
    if not experiment_pks:
        return RunPage([], None)
    stages = tuple(_VIEW_TYPES.get(run_view_type, ["active"]))
    sql, params = _run_search_sql(experiment_pks, stages, filter_string, tuple(order_by or ()))
    # The page's bounds are written into the statement, as the ORM writes them: PostgreSQL plans
    # the first page of an ordered search to stop early only when it knows the limit.
    rows = fetch_rows(f"{sql} LIMIT {int(max_results) + 1} OFFSET {int(offset)}", params)
    run_pks, next_token = cut_page([row[0] for row in rows], offset, max_results)
    return RunPage(load_runs(run_pks), next_token)


def _experiment_pks(workspace: Workspace, numbers: list[int]) -> tuple[int, ...]:
    """The pks of this workspace's experiments with these numbers, in pk order."""
    if not numbers:
        return ()
    is_one_of_numbers, number_params = one_of(numbers)
    rows = fetch_rows(
        f"SELECT id FROM {table(Experiment)} WHERE workspace_id = %s AND number {is_one_of_numbers} ORDER BY id",
        [workspace.pk, *number_params],
    )
    return tuple(row[0] for row in rows)


# Filters longer than this are compiled on every call rather than kept: a client sending many
# different long filters cannot fill a worker's memory.
_KEPT_FILTER_LENGTH = 2_000


def _run_search_sql(
    experiment_pks: tuple[int, ...], stages: tuple[str, ...], filter_string: str, order_by: tuple[str, ...]
) -> tuple[str, tuple]:
    """The statement (without its page bounds) and parameters that find the pks of the runs of
    these experiments and stages that pass the filter, in the requested order."""
    if len(filter_string) > _KEPT_FILTER_LENGTH:
        return _compiled_run_search(experiment_pks, stages, filter_string, order_by)
    return _kept_run_search(experiment_pks, stages, filter_string, order_by)


def _compiled_run_search(
    experiment_pks: tuple[int, ...], stages: tuple[str, ...], filter_string: str, order_by: tuple[str, ...]
) -> tuple[str, tuple]:
    queryset = Run.objects.filter(experiment_id__in=experiment_pks, lifecycle_stage__in=stages)
    queryset = filter_and_order_runs(queryset, filter_string, list(order_by))
    sql, params = queryset.values_list("pk", flat=True).query.sql_with_params()
    return sql, tuple(params)


# The same search comes again and again: the MLflow UI refreshes its runs table every few
# seconds, and a client pages through one. Building and compiling its ORM query cost more than
# the database does to answer it (W4's first page of 5,000 runs: 2.5 of 8 ms); what a filter
# compiles to depends on nothing but these arguments, and a filter that does not compile raises
# and is not kept. Only the statement is kept: every call reads the runs afresh.
_kept_run_search = functools.lru_cache(maxsize=256)(_compiled_run_search)
