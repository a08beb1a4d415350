"""Reading runs: single look-ups, bulk loading of their data, and search."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import connection

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
from tracking.search.paging import cut_page, decode_offset
from tracking.search.runs import filter_and_order_runs
from tracking.validation import check_max_results

from .experiments import parse_experiment_number


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def get_run(workspace: Workspace, run_id: str) -> Run:
    """The run with this id in this workspace, or RESOURCE_DOES_NOT_EXIST."""
    # Every write looks its run up first: raw SQL spares building the ORM query each time.
    sql = (
        f"SELECT r.* FROM {_table(Run)} r JOIN {_table(Experiment)} e ON e.id = r.experiment_id "
        "WHERE r.uuid = %s AND e.workspace_id = %s"
    )
    for run in Run.objects.raw(sql, [run_id, workspace.pk]):
        return run
    raise ResourceDoesNotExist(f"Run with id={run_id} not found")


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
    if not run_pks:
        return []
    records = {row[0]: RunRecord(*row[:2], str(row[2]), *row[3:]) for row in _run_rows(run_pks)}
    # The child tables are read with plain SQL: for a page of runs the ORM's query building
    # and row handling would cost more than the database does.
    q = connection.ops.quote_name
    where = f"run_id IN ({', '.join(['%s'] * len(run_pks))})"
    # Params, tags and latest metrics in one round trip (it counts on PostgreSQL).
    data = _rows(
        f"SELECT 0, run_id, key, value, {_NO_NUMBER} FROM {_table(Param)} WHERE {where} UNION ALL "
        f"SELECT 1, run_id, key, value, {_NO_NUMBER} FROM {_table(RunTag)} WHERE {where} UNION ALL "
        f"SELECT 2, run_id, key, NULL, value, {q('timestamp')}, step FROM {_table(MetricSummary)} WHERE {where}",
        run_pks * 3,
    )
    for kind, run_pk, key, text, number, timestamp, step in data:
        record = records[run_pk]
        if kind == 0:
            record.params.append((key, text))
        elif kind == 1:
            record.tags.append((key, text))
        else:
            record.metrics.append((key, number, timestamp, step))
    inputs = _rows(
        f"SELECT i.run_id, d.name, d.digest, d.source_type, d.source, d.{q('schema')}, d.profile, i.tags "
        f"FROM {_table(RunInput)} i JOIN {_table(Dataset)} d ON d.id = i.dataset_id WHERE i.{where}",
        run_pks,
    )
    for run_pk, *dataset, tags in inputs:
        tags = json.loads(tags) if isinstance(tags, str) else tags
        records[run_pk].dataset_inputs.append(DatasetInputRecord(*dataset, [tuple(tag) for tag in tags]))
    links = _rows(
        f"SELECT run_id, model_id, direction, step FROM {_table(RunModelLink)} WHERE {where}", run_pks
    )
    for run_pk, model_id, direction, step in links:
        if direction == RunModelLink.INPUT:
            records[run_pk].model_inputs.append(model_id)
        else:
            records[run_pk].model_outputs.append((model_id, step))
    return [records[pk] for pk in run_pks if pk in records]


# PostgreSQL types a UNION's columns from its first branch: say what the NULLs stand for.
_NO_NUMBER = "CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT)"


def _run_rows(run_pks: list[int]) -> list[tuple]:
    to_datetime = _datetime_converter()
    rows = _rows(
        f"SELECT r.id, r.uuid, e.number, r.name, r.user_id, r.status, r.start_time, r.end_time, "
        f"r.lifecycle_stage, r.artifact_uri FROM {_table(Run)} r JOIN {_table(Experiment)} e "
        f"ON e.id = r.experiment_id WHERE r.id IN ({', '.join(['%s'] * len(run_pks))})",
        run_pks,
    )
    return [(*row[:6], to_datetime(row[6]), to_datetime(row[7]), *row[8:]) for row in rows]


def _datetime_converter():
    """Makes a datetime column of a raw row aware, as the ORM would (SQLite's are naive UTC)."""
    if connection.vendor != "sqlite":
        return lambda value: value  # psycopg gives aware datetimes already
    return lambda value: None if value is None else value.replace(tzinfo=UTC)


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def get_run_record(workspace: Workspace, run_id: str) -> RunRecord:
    return load_runs([get_run(workspace, run_id).pk])[0]


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
    experiment_pks = list(
        Experiment.objects.filter(workspace=workspace, number__in=numbers).values_list("pk", flat=True)
    )
    if not experiment_pks:
        return RunPage([], None)
    queryset = Run.objects.filter(
        experiment_id__in=experiment_pks, lifecycle_stage__in=_VIEW_TYPES.get(run_view_type, ["active"])
    )
    queryset = filter_and_order_runs(queryset, filter_string, order_by or [])
    run_pks = list(queryset.values_list("pk", flat=True)[offset : offset + max_results + 1])
    run_pks, next_token = cut_page(run_pks, offset, max_results)
    return RunPage(load_runs(run_pks), next_token)
