"""The runs table of an experiment's page and of the workspace's runs page: a page of runs with
chosen param and metric columns.

A page costs the same queries whatever its size and whatever the number of runs:

1. `experiment_keys`: the runs' param and metric keys (the columns one can pick), from the
   experiment's key registry;
2. the parent links of the nested runs (tag `mlflow.parentRunId`), kept until a run changes as 1. is;
3. the number of top-level runs that match the filter (for the pager);
4. the page of top-level runs, filtered and sorted by the database;
5. their matching child runs, sorted the same way, at most `CHILDREN_SHOWN` per parent;
6. the params, and 7. the metric summaries (latest value, min, max) of the shown columns.

Filters and sorts are MLflow's (`filter_and_order_runs`), so the page answers what
`search_runs` would; sorting by a metric's min or max, or by duration, is ours (MLflow has
neither). A run is listed under its parent when the parent is listed too: when the filter
leaves the parent out, the child run is listed at the top level.

"The experiment's runs" are those in the experiment's own lifecycle stage: its active runs, or,
for a deleted experiment, the runs deleted with it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from math import ceil

from django.db import connection
from django.db.models import (
    Count,
    DurationField,
    Exists,
    F,
    FilteredRelation,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Window,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import RowNumber
from django.utils import timezone

from tracking.models import Experiment, ExperimentKey, MetricSummary, Param, Run, RunTag
from tracking.models.experiments import ACTIVE
from tracking.run_changes import kept_for_runs
from tracking.search.runs import filter_and_order_runs

PARENT_TAG = "mlflow.parentRunId"
PAGE_SIZE = 100
# Children listed under each parent; the rest are one filter away (`children_filter`).
CHILDREN_SHOWN = 3
# Deeper nesting than this is listed no deeper (and a cycle of parent tags ends here).
MAX_DEPTH = 8
DEFAULT_PARAM_COLUMNS = 8
DEFAULT_METRIC_COLUMNS = 8

PARAM = "param"
METRIC = "metric"
# What a metric column shows: the latest value (MLflow's), or the min or max of the history.
STATS = ("value", "min", "max")

# Sortable run attributes: the table's column id -> MLflow's order_by identifier.
ATTRIBUTE_SORTS = {
    "name": "attributes.run_name",
    "status": "attributes.status",
    "user": "attributes.user_id",
    "start": "attributes.start_time",
}
DURATION = "duration"
_STAT_COLUMN = re.compile(r"^(min|max)\(metrics\.(.+)\)$")


@dataclass(frozen=True, slots=True)
class Column:
    """A param or metric column; its id is how the URL names it (`params.lr`, `max(metrics.acc)`)."""

    kind: str  # PARAM | METRIC
    key: str
    stat: str = "value"  # metrics: one of STATS

    @property
    def id(self) -> str:
        if self.kind == PARAM:
            return f"params.{self.key}"
        if self.stat == "value":
            return f"metrics.{self.key}"
        return f"{self.stat}(metrics.{self.key})"


def parse_column(text: str) -> Column | None:
    """The column a URL names, or None for anything else (keys cannot hold '(' or ',')."""
    if match := _STAT_COLUMN.match(text):
        return Column(METRIC, match[2], match[1])
    prefix, _, key = text.partition(".")
    if not key or "(" in key:
        return None
    if prefix == "params":
        return Column(PARAM, key)
    if prefix == "metrics":
        return Column(METRIC, key)
    return None


@dataclass(frozen=True, slots=True)
class Sort:
    """A column id and a direction; written `-metrics.acc` for descending."""

    column: str = "start"
    descending: bool = True

    @classmethod
    def parse(cls, text: str) -> Sort:
        """The sort a URL asks for; MLflow's default (newest first) when it names no column."""
        descending = text.startswith("-")
        column = text.removeprefix("-")
        if column in ATTRIBUTE_SORTS or column == DURATION or parse_column(column):
            return cls(column, descending)
        return cls()

    def __str__(self) -> str:
        return f"-{self.column}" if self.descending else self.column

    def mlflow_order_by(self) -> str | None:
        """The sort as an MLflow order_by clause, or None when MLflow cannot say it."""
        direction = "DESC" if self.descending else "ASC"
        if self.column in ATTRIBUTE_SORTS:
            return f"{ATTRIBUTE_SORTS[self.column]} {direction}"
        column = parse_column(self.column)
        if column is None or column.stat != "value":
            return None
        prefix = "params" if column.kind == PARAM else "metrics"
        return f"{prefix}.`{column.key}` {direction}"


@dataclass(frozen=True, slots=True)
class ExperimentKeys:
    params: list[str]
    metrics: list[str]
    tags: list[str] = field(default_factory=list)  # users' own: MLflow's (`mlflow.*`) left out

    def default_columns(self) -> list[Column]:
        """Every param and metric key up to a screenful (the metrics' latest values); when one
        kind has few keys, the other takes the room left."""
        room = DEFAULT_PARAM_COLUMNS + DEFAULT_METRIC_COLUMNS
        metrics = min(len(self.metrics), max(DEFAULT_METRIC_COLUMNS, room - len(self.params)))
        params = min(len(self.params), room - metrics)
        return [Column(PARAM, key) for key in self.params[:params]] + [
            Column(METRIC, key) for key in self.metrics[:metrics]
        ]


# (latest value, min, max, count); a None value is a NaN (the summary row exists).
MetricStats = tuple[float | None, float | None, float | None, int]


@dataclass(slots=True)
class RunRow:
    pk: int
    run_id: str
    name: str
    user_id: str
    status: str
    start_time: datetime
    end_time: datetime | None
    experiment_pk: int = 0
    depth: int = 0
    # The uuids of the listed runs this one is nested under, outermost first.
    ancestors: list[str] = field(default_factory=list)
    # Child runs that match the filter, and how many of them are listed under this run.
    child_count: int = 0
    children_listed: int = 0
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, MetricStats] = field(default_factory=dict)

    @property
    def duration(self):
        end = self.end_time or (timezone.now() if self.status == "RUNNING" else None)
        return None if end is None else end - self.start_time

    @property
    def children_hidden(self) -> int:
        return self.child_count - self.children_listed


@dataclass(slots=True)
class RunTable:
    rows: list[RunRow]
    total: int  # top-level runs matching the filter
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.page_size))

    @property
    def first(self) -> int:
        return (self.page - 1) * self.page_size + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.page_size)

    @property
    def nested(self) -> bool:
        return any(row.child_count for row in self.rows)


@dataclass(frozen=True, slots=True)
class RunScope:
    """Whose runs a table lists: one experiment's, or those of several experiments at once (the
    workspace's runs page), in one lifecycle stage."""

    experiment_pks: tuple[int, ...]
    lifecycle_stage: str = "active"

    @classmethod
    def of(cls, experiment: Experiment) -> RunScope:
        """An experiment's runs: its active runs, or, when it is deleted, the runs deleted with it."""
        return cls((experiment.pk,), experiment.lifecycle_stage)

    @classmethod
    def across(cls, experiments: list[Experiment]) -> RunScope:
        """The active runs of the given experiments (deleted ones are left out)."""
        return cls(tuple(experiment.pk for experiment in experiments if experiment.is_active))

    def runs(self) -> QuerySet:
        return Run.objects.filter(experiment_id__in=self.experiment_pks, lifecycle_stage=self.lifecycle_stage)

    def sql(self, alias: str) -> tuple[str, list]:
        """The scope as a WHERE condition on the runs table `alias`, and its parameters."""
        holders = ", ".join(["%s"] * len(self.experiment_pks)) or "NULL"
        return (
            f"{alias}.experiment_id IN ({holders}) AND {alias}.lifecycle_stage = %s",
            [*self.experiment_pks, self.lifecycle_stage],
        )


def children_filter(run_id: str) -> str:
    """The MLflow filter that lists all the child runs of a run."""
    return f"tags.`{PARENT_TAG}` = '{run_id}'"


def experiment_keys(scope: RunScope) -> ExperimentKeys:
    """The param, metric and (users' own) tag keys the runs have, sorted.

    Active runs: the experiments' key registries (`ExperimentKey`, kept current by every
    write), one query on its index. The runs of a deleted experiment have no registry; their
    keys are read from the runs, kept until a run changes.
    """
    if scope.lifecycle_stage == ACTIVE:
        return _registered_keys(scope)
    return kept_for_runs(
        "experiment_keys", scope.experiment_pks, scope.lifecycle_stage, (), lambda: _keys_of_runs(scope)
    )


def _registered_keys(scope: RunScope) -> ExperimentKeys:
    keys: dict[str, set[str]] = {
        ExperimentKey.PARAM: set(),
        ExperimentKey.METRIC: set(),
        ExperimentKey.TAG: set(),
    }
    # Several experiments (the workspace's runs page) may share a key: a set keeps it once.
    for kind, key in ExperimentKey.objects.filter(experiment_id__in=scope.experiment_pks).values_list(
        "kind", "key"
    ):
        keys[kind].add(key)
    return ExperimentKeys(
        sorted(keys[ExperimentKey.PARAM]), sorted(keys[ExperimentKey.METRIC]), sorted(keys[ExperimentKey.TAG])
    )


def _keys_of_runs(scope: RunScope) -> ExperimentKeys:
    # A join with DISTINCT reads each run's keys from the (run_id, key) unique indexes; SQLite
    # runs it twice as fast as `run_id IN (...) GROUP BY key`.
    key = connection.ops.quote_name("key")
    runs = table_name(Run)
    where, params = scope.sql("r")
    rows = sql_rows(
        f"SELECT DISTINCT 0, p.{key} FROM {runs} r JOIN {table_name(Param)} p ON p.run_id = r.id WHERE {where} "
        f"UNION ALL "
        f"SELECT DISTINCT 1, m.{key} FROM {runs} r JOIN {table_name(MetricSummary)} m ON m.run_id = r.id "
        f"WHERE {where} "
        f"UNION ALL "
        f"SELECT DISTINCT 2, t.{key} FROM {runs} r JOIN {table_name(RunTag)} t ON t.run_id = r.id "
        f"WHERE {where} AND t.{key} NOT LIKE %s",
        [*params, *params, *params, "mlflow.%"],
    )
    keys: tuple[list[str], list[str], list[str]] = ([], [], [])
    for kind, name in rows:
        keys[kind].append(name)
    return ExperimentKeys(sorted(keys[0]), sorted(keys[1]), sorted(keys[2]))


def run_table(
    scope: RunScope,
    *,
    columns: list[Column],
    filter_string: str = "",
    sort: Sort | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> RunTable:
    """A page of the scope's runs, children under their parents.

    Raises InvalidParameterValue, with MLflow's message, for a filter MLflow would refuse.
    """
    sort = sort or Sort()
    base = scope.runs()
    matching = _sorted(filter_and_order_runs(base, filter_string, _order_by(sort)), sort)
    links = _parent_links(scope)
    top_level = matching
    if links.parents:
        # Runs whose parent is listed (matches too) are listed under it, not at the top level.
        # (An explicit NOT EXISTS: `exclude()` across the tag relation nests two subqueries.)
        listed_parent = (
            matching.order_by().filter(uuid=OuterRef("parent_link__value")).exclude(pk=OuterRef("pk"))
        )
        top_level = matching.alias(parent_link=_parent_relation()).filter(~Exists(listed_parent.values("pk")))
    # Unfiltered, the nested runs are exactly the linked ones: no need to count the anti-join.
    total = top_level.count() if filter_string.strip() else base.count() - links.nested_runs
    page = max(1, min(page, ceil(total / page_size) or 1))
    offset = (page - 1) * page_size
    rows = [RunRow(*values) for values in top_level.values_list(*_FIELDS)[offset : offset + page_size]]
    if links.parents:
        rows = _with_children(rows, matching, links)
    _add_values(rows, columns)
    return RunTable(rows, total, page, page_size)


_FIELDS = ("pk", "uuid", "name", "user_id", "status", "start_time", "end_time", "experiment_id")


def _order_by(sort: Sort) -> list[str]:
    clause = sort.mlflow_order_by()
    return [clause] if clause else []


def _sorted(queryset: QuerySet, sort: Sort) -> QuerySet:
    """Sorts MLflow cannot express: a metric's min or max, and the duration."""
    if sort.mlflow_order_by():
        return queryset
    if sort.column == DURATION:
        key = _duration()
    else:
        column = parse_column(sort.column)
        queryset = queryset.alias(
            stat_sort=FilteredRelation("metric_summaries", condition=Q(metric_summaries__key=column.key))
        )
        key = F(f"stat_sort__{column.stat}_value")
    key = key.desc(nulls_last=True) if sort.descending else key.asc(nulls_last=True)
    # Ties as MLflow breaks them: newest first, then by run id.
    return queryset.order_by(key, F("start_time").desc(), F("uuid").asc())


def _duration() -> RawSQL:
    """How long each run took (or has been running): end time, or now, minus start time.

    In SQL each database computes natively; Django's own datetime subtraction calls a Python
    function per row on SQLite, five times slower over 10,000 runs.
    """
    runs = table_name(Run)
    now = timezone.now()
    if connection.vendor == "sqlite":
        sql = f"julianday(COALESCE({runs}.end_time, %s)) - julianday({runs}.start_time)"
        return RawSQL(
            sql, [now.astimezone(UTC).replace(tzinfo=None).isoformat(" ")], output_field=FloatField()
        )
    sql = f"COALESCE({runs}.end_time, %s) - {runs}.start_time"
    return RawSQL(sql, [now], output_field=DurationField())


def _parent_relation() -> FilteredRelation:
    return FilteredRelation("tags", condition=Q(tags__key=PARENT_TAG))


@dataclass(slots=True)
class _Links:
    """How the experiment's runs nest: which runs are parents, and of what."""

    parents: set[str] = field(default_factory=set)
    # A parent run's id -> the ids of its child runs that are parents themselves.
    child_parents: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    nested_runs: int = 0  # runs whose parent is a run of their experiment


def _parent_links(scope: RunScope) -> _Links:
    """How the scope's runs nest: kept until a run changes, else one query. It reads every
    child run's parent link (16,000 of 100,000 runs in sweeps: 250 ms), for every page."""
    return kept_for_runs(
        "parent_links", scope.experiment_pks, scope.lifecycle_stage, (), lambda: _read_parent_links(scope)
    )


def _read_parent_links(scope: RunScope) -> _Links:
    """One row per parent run (a run in scope with child runs in its own experiment):
    its child count and its own parent, if any. A sweep of 10,000 trials is one row, not 10,000.
    """
    key = connection.ops.quote_name("key")
    runs, tags = table_name(Run), table_name(RunTag)
    where, params = scope.sql("c")
    sql = (
        f"SELECT t.value, COUNT(*), pt.value FROM {runs} c "
        f"JOIN {tags} t ON t.run_id = c.id AND t.{key} = %s "
        f"JOIN {runs} p ON p.uuid = t.value AND p.experiment_id = c.experiment_id AND p.lifecycle_stage = %s "
        f"LEFT JOIN {tags} pt ON pt.run_id = p.id AND pt.{key} = %s "
        f"WHERE {where} AND c.uuid <> t.value "
        f"GROUP BY t.value, pt.value"
    )
    links = _Links()
    for parent, children, grandparent in sql_rows(
        sql, [PARENT_TAG, scope.lifecycle_stage, PARENT_TAG, *params]
    ):
        links.parents.add(parent)
        links.nested_runs += children
        if grandparent is not None:
            links.child_parents[grandparent].append(parent)
    return links


def _with_children(rows: list[RunRow], matching: QuerySet, links: _Links) -> list[RunRow]:
    """The page's runs with their matching descendants under them, in one query.

    The links say which runs have children (whatever the filter); one windowed query then
    takes, per parent, the first CHILDREN_SHOWN matching children in the table's order and
    counts them all.
    """
    parents: set[str] = set()
    frontier = [row.run_id for row in rows]
    for _ in range(MAX_DEPTH):
        frontier = [run_id for run_id in frontier if run_id in links.parents and run_id not in parents]
        if not frontier:
            break
        parents.update(frontier)
        frontier = [child for run_id in frontier for child in links.child_parents.get(run_id, [])]
    if not parents:
        return rows
    by_parent = _child_rows(matching, sorted(parents))
    listed: list[RunRow] = []
    seen: set[str] = set()

    def add(row: RunRow, ancestors: list[str]) -> None:
        seen.add(row.run_id)
        row.depth, row.ancestors = len(ancestors), ancestors
        listed.append(row)
        count, children = by_parent.get(row.run_id, (0, []))
        if len(ancestors) >= MAX_DEPTH:
            return
        row.child_count = count
        for child in children:
            if child.run_id not in seen:
                row.children_listed += 1
                add(child, [*ancestors, row.run_id])

    for row in rows:
        add(row, [])
    return listed


def _child_rows(matching: QuerySet, parents: list[str]) -> dict[str, tuple[int, list[RunRow]]]:
    ordering = list(matching.query.order_by)
    children = (
        matching.alias(parent_link=_parent_relation())
        .filter(parent_link__value__in=parents)
        .annotate(
            parent_id=F("parent_link__value"),
            position=Window(RowNumber(), partition_by=F("parent_link__value"), order_by=ordering),
            siblings=Window(Count("pk"), partition_by=F("parent_link__value")),
        )
        .filter(position__lte=CHILDREN_SHOWN)
        .order_by("parent_id", "position")
    )
    by_parent: dict[str, tuple[int, list[RunRow]]] = {}
    for *values, parent_id, siblings in children.values_list(*_FIELDS, "parent_id", "siblings"):
        by_parent.setdefault(parent_id, (siblings, []))[1].append(RunRow(*values))
    return by_parent


def _add_values(rows: list[RunRow], columns: list[Column]) -> None:
    """The params and metric summaries of the listed runs, one query each, shown columns only."""
    by_pk = {row.pk: row for row in rows}
    param_keys = sorted({column.key for column in columns if column.kind == PARAM})
    metric_keys = sorted({column.key for column in columns if column.kind == METRIC})
    if not by_pk:
        return
    q = connection.ops.quote_name
    runs = ", ".join(["%s"] * len(by_pk))
    if param_keys:
        keys = ", ".join(["%s"] * len(param_keys))
        for run_pk, key, value in sql_rows(
            f"SELECT run_id, {q('key')}, value FROM {table_name(Param)} "
            f"WHERE run_id IN ({runs}) AND {q('key')} IN ({keys})",
            [*by_pk, *param_keys],
        ):
            by_pk[run_pk].params[key] = value
    if metric_keys:
        keys = ", ".join(["%s"] * len(metric_keys))
        for run_pk, key, *stats in sql_rows(
            f"SELECT run_id, {q('key')}, value, min_value, max_value, {q('count')} "
            f"FROM {table_name(MetricSummary)} WHERE run_id IN ({runs}) AND {q('key')} IN ({keys})",
            [*by_pk, *metric_keys],
        ):
            by_pk[run_pk].metrics[key] = tuple(stats)


def table_name(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def sql_rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
