"""The runs table grouped by a param or a tag: one row per value, with its number of runs and,
for each metric column, the mean, min and max of the runs' latest values.

Two queries whatever the number of runs: the groups with their counts, then the metric
aggregates per (group, metric). The runs are those the filter matches (child runs included);
runs without the param or tag form a group of their own. A NaN is left out of the mean, min and
max, as a run without the metric is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

from tracking.models import MetricSummary, Param, Run, RunTag
from tracking.run_changes import kept_for_runs
from tracking.search.runs import filter_and_order_runs

from .run_table import RunScope, sql_rows, table_name

GROUP_KINDS = {"params": Param, "tags": RunTag}
# Groups shown at once, the largest first; a param with more values than this is rarely a grouping.
MAX_GROUPS = 200

# (mean, min, max) of a metric's latest values in a group; None when no run of it has a number.
MetricSpread = tuple[float | None, float | None, float | None]


@dataclass(frozen=True, slots=True)
class GroupBy:
    kind: str  # "params" | "tags"
    key: str

    @property
    def id(self) -> str:
        return f"{self.kind}.{self.key}"

    @classmethod
    def parse(cls, text: str) -> GroupBy | None:
        """The grouping a URL names (`params.optimizer`, `tags.team`), or None for anything else."""
        kind, _, key = text.partition(".")
        return cls(kind, key) if kind in GROUP_KINDS and key else None

    def filter_for(self, value: str | None) -> str:
        """MLflow's filter for the runs of one group."""
        identifier = f"{self.kind}.`{self.key.replace('`', '``')}`"
        if value is None:
            return f"{identifier} IS NULL"
        return f"{identifier} = '{value.replace(chr(39), chr(39) * 2)}'"


@dataclass(slots=True)
class RunGroup:
    value: str | None  # None: the runs without the param or tag
    runs: int
    metrics: dict[str, MetricSpread] = field(default_factory=dict)


@dataclass(slots=True)
class GroupTable:
    group_by: GroupBy
    groups: list[RunGroup]
    total_groups: int
    total_runs: int


def group_table(
    scope: RunScope, group_by: GroupBy, *, metric_keys: list[str], filter_string: str = ""
) -> GroupTable:
    """Kept until a run of the scope changes (the aggregates read every run's summaries).

    Raises InvalidParameterValue, with MLflow's message, for a filter MLflow would refuse.
    """
    return kept_for_runs(
        "group_table",
        scope.experiment_pks,
        scope.lifecycle_stage,
        (group_by, tuple(metric_keys), filter_string),
        lambda: _group_table(scope, group_by, metric_keys, filter_string),
    )


def _group_table(
    scope: RunScope, group_by: GroupBy, metric_keys: list[str], filter_string: str
) -> GroupTable:
    matching, matching_params = (
        filter_and_order_runs(scope.runs(), filter_string, []).order_by().values("pk").query.sql_with_params()
    )
    q = connection.ops.quote_name
    group_rows = table_name(GROUP_KINDS[group_by.kind])
    runs = table_name(Run)
    join = f"LEFT JOIN {group_rows} g ON g.run_id = r.id AND g.{q('key')} = %s"
    counted = sql_rows(
        f"SELECT g.value, COUNT(*) FROM {runs} r {join} WHERE r.id IN ({matching}) "
        f"GROUP BY g.value ORDER BY COUNT(*) DESC, g.value IS NULL, g.value",
        [group_by.key, *matching_params],
    )
    groups = {value: RunGroup(value, count) for value, count in counted[:MAX_GROUPS]}
    if groups and metric_keys:
        keys = ", ".join(["%s"] * len(metric_keys))
        summaries = table_name(MetricSummary)
        for value, key, mean, low, high in sql_rows(
            f"SELECT g.value, m.{q('key')}, AVG(m.value), MIN(m.value), MAX(m.value) "
            f"FROM {summaries} m JOIN {runs} r ON r.id = m.run_id {join} "
            f"WHERE m.{q('key')} IN ({keys}) AND r.id IN ({matching}) GROUP BY g.value, m.{q('key')}",
            [group_by.key, *metric_keys, *matching_params],
        ):
            if value in groups:
                groups[value].metrics[key] = (mean, low, high)
    return GroupTable(
        group_by, list(groups.values()), total_groups=len(counted), total_runs=sum(c for _, c in counted)
    )
