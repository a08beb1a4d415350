"""Run search: MLflow's filter and order_by turned into one SQL query.

Each metric, param or tag key the filter or the ordering names becomes one join on that key
(a FilteredRelation), so a search is a single query whatever it asks, and the page of runs is
cut by the database. Metrics are compared through each run's summary row (its latest value).

Ordering follows MLflow: the requested keys, then start_time DESC, then run id. A run without
the ordered metric, param or tag sorts after every run that has it, in both directions; a NaN
metric sorts after every number and before a missing value.
"""

from __future__ import annotations

from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
)

from tracking.errors import InvalidParameterValue
from tracking.models import RunInput
from tracking.times import ms_to_datetime

from . import lookups  # noqa: F401  (registers mlflow_like / mlflow_ilike)
from .grammar import Comparison, OrderKey, parse_run_filter, parse_run_order_by

_RELATIONS = {"metric": "metric_summaries", "param": "params", "tag": "tags"}
_ATTRIBUTE_FIELDS = {
    "run_id": "uuid",
    "run_name": "name",
    "status": "status",
    "user_id": "user_id",
    "artifact_uri": "artifact_uri",
    "lifecycle_stage": "lifecycle_stage",
    "start_time": "start_time",
    "end_time": "end_time",
}
_TIME_ATTRIBUTES = {"start_time", "end_time"}
_DATASET_FIELDS = {"name": "dataset__name", "digest": "dataset__digest", "context": "context"}
_LOOKUPS = {
    "=": "exact",
    "<": "lt",
    "<=": "lte",
    ">": "gt",
    ">=": "gte",
    "LIKE": "mlflow_like",
    "ILIKE": "mlflow_ilike",
    "IN": "in",
}


class _Joins:
    """One aliased join per (entity, key), shared by the filter and the ordering."""

    def __init__(self, queryset: QuerySet) -> None:
        self.queryset = queryset
        self.aliases: dict[tuple[str, str], str] = {}

    def alias(self, entity: str, key: str) -> str:
        found = self.aliases.get((entity, key))
        if found is None:
            relation = _RELATIONS[entity]
            found = f"{entity}_{len(self.aliases)}"
            self.aliases[(entity, key)] = found
            self.queryset = self.queryset.alias(
                **{found: FilteredRelation(relation, condition=Q(**{f"{relation}__key": key}))}
            )
        return found


def filter_and_order_runs(queryset: QuerySet, filter_string: str, order_by: list[str]) -> QuerySet:
    comparisons = parse_run_filter(filter_string)
    order_keys = parse_run_order_by(order_by)
    joins = _Joins(queryset)
    conditions = [_condition(joins, comparison) for comparison in comparisons]
    ordering = [expression for key in order_keys for expression in _ordering(joins, key)]
    queryset = joins.queryset
    for condition in conditions:
        queryset = queryset.filter(condition)
    explicit = {(key.entity, key.key) for key in order_keys}
    if ("attribute", "start_time") not in explicit:
        ordering.append(F("start_time").desc())
    if ("attribute", "run_id") not in explicit:
        ordering.append(F("uuid").asc())
    return queryset.order_by(*ordering)


def _condition(joins: _Joins, comparison: Comparison) -> Q:
    entity, op, value = comparison.entity, comparison.op, comparison.value
    if entity == "dataset":
        field = _DATASET_FIELDS.get(comparison.key)
        if field is None:
            raise InvalidParameterValue(f"Invalid dataset attribute '{comparison.key}'.")
        inputs = RunInput.objects.filter(run=OuterRef("pk"))
        if op == "!=":
            return Exists(inputs.exclude(**{field: value}))
        if op == "NOT IN":
            return Exists(inputs.exclude(**{f"{field}__in": value}))
        return Exists(inputs.filter(**{f"{field}__{_lookup(op)}": value}))
    if entity == "attribute":
        field = _ATTRIBUTE_FIELDS.get(comparison.key)
        if field is None:
            raise InvalidParameterValue(f"Invalid attribute key '{comparison.key}' specified.")
        if comparison.key in _TIME_ATTRIBUTES and value is not None:
            value = ms_to_datetime(int(value), comparison.key)
    else:
        field = f"{joins.alias(entity, comparison.key)}__value"
        if entity == "metric" and op not in ("=", "!=", "<", "<=", ">", ">="):
            raise InvalidParameterValue(f"Invalid comparator '{op}' for a metric.")
    if op == "IS NULL":
        return Q(**{f"{joins.alias(entity, comparison.key)}__id__isnull": True})
    if op == "IS NOT NULL":
        return Q(**{f"{joins.alias(entity, comparison.key)}__id__isnull": False})
    if op == "!=":
        if entity == "metric":
            # NaN (stored as NULL) differs from every number, as in MLflow; a missing key does not.
            has_key = Q(**{f"{joins.alias(entity, comparison.key)}__id__isnull": False})
            return has_key & (Q(**{f"{field}__isnull": True}) | ~Q(**{field: value}))
        # SQL's <> is never true against a missing row: the run must have the key.
        return Q(**{f"{field}__isnull": False}) & ~Q(**{field: value})
    if op == "NOT IN":
        return Q(**{f"{field}__isnull": False}) & ~Q(**{f"{field}__in": value})
    return Q(**{f"{field}__{_lookup(op)}": value})


def _lookup(op: str) -> str:
    lookup = _LOOKUPS.get(op)
    if lookup is None:
        raise InvalidParameterValue(f"Invalid comparator '{op}'.")
    return lookup


def _ordering(joins: _Joins, key: OrderKey) -> list:
    if key.entity == "attribute":
        field = _ATTRIBUTE_FIELDS.get(key.key)
        if field is None:
            raise InvalidParameterValue(f"Invalid order_by key '{key.key}'.")
        column = F(field)
        return [column.asc(nulls_last=True) if key.ascending else column.desc(nulls_last=True)]
    if key.entity not in _RELATIONS:
        raise InvalidParameterValue(f"Invalid order_by entity '{key.entity}'.")
    alias = joins.alias(key.entity, key.key)
    value = F(f"{alias}__value")
    # A NULL value is a NaN when the summary row exists, and a missing key when it does not:
    # NaN first, then missing, both after every number.
    missing = ExpressionWrapper(Q(**{f"{alias}__id__isnull": True}), output_field=BooleanField())
    return [
        value.asc(nulls_last=True) if key.ascending else value.desc(nulls_last=True),
        missing.asc(),
    ]
