"""Experiment search: MLflow's filter and order_by, turned into a queryset."""

from __future__ import annotations

from django.db.models import F, FilteredRelation, Q, QuerySet

from tracking.errors import InvalidParameterValue
from tracking.times import ms_to_datetime

from . import lookups  # noqa: F401  (registers mlflow_like / mlflow_ilike)
from .grammar import Comparison, parse_experiment_filter, parse_experiment_order_by

_ATTRIBUTES = {
    "name": "name",
    "experiment_id": "number",
    "creation_time": "created_at",
    "last_update_time": "updated_at",
}
_TIME_ATTRIBUTES = {"creation_time", "last_update_time"}
_OPERATORS = {
    "=": "exact",
    "<": "lt",
    "<=": "lte",
    ">": "gt",
    ">=": "gte",
    "LIKE": "mlflow_like",
    "ILIKE": "mlflow_ilike",
    "IN": "in",
}


def filter_and_order_experiments(queryset: QuerySet, filter_string: str, order_by: list[str]) -> QuerySet:
    tag_aliases: dict[str, str] = {}

    def tag_alias(key: str) -> str:
        if key not in tag_aliases:
            alias = f"tag_{len(tag_aliases)}"
            tag_aliases[key] = alias
            nonlocal queryset
            queryset = queryset.annotate(**{alias: FilteredRelation("tags", condition=Q(tags__key=key))})
        return tag_aliases[key]

    conditions = []
    for comparison in parse_experiment_filter(filter_string):
        if comparison.entity == "tag" and comparison.op in ("IS NULL", "IS NOT NULL"):
            missing = comparison.op == "IS NULL"
            conditions.append(Q(**{f"{tag_alias(comparison.key)}__id__isnull": missing}))
        elif comparison.entity == "tag":
            conditions.append(_condition(f"{tag_alias(comparison.key)}__value", comparison))
        elif comparison.key in _ATTRIBUTES:
            value = comparison.value
            if comparison.key in _TIME_ATTRIBUTES:
                value = ms_to_datetime(int(value), comparison.key)
            elif comparison.key == "experiment_id":
                value = _experiment_numbers(value)
            conditions.append(_condition(_ATTRIBUTES[comparison.key], comparison, value))
        else:
            raise InvalidParameterValue(f"Invalid attribute key '{comparison.key}' for experiment search.")
    for condition in conditions:
        queryset = queryset.filter(condition)

    ordering = []
    order_keys = parse_experiment_order_by(order_by)
    for key in order_keys:
        field = _ATTRIBUTES.get(key.key)
        if field is None:
            raise InvalidParameterValue(f"Invalid order_by key '{key.key}' for experiment search.")
        ordering.append(F(field).asc() if key.ascending else F(field).desc())
    if not any(key.key == "experiment_id" for key in order_keys):
        if not ordering:
            ordering.append(F("created_at").desc())
        ordering.append(F("number").asc())
    return queryset.order_by(*ordering)


def _experiment_numbers(value: str | tuple[str, ...]) -> int | list[int]:
    try:
        return [int(v) for v in value] if isinstance(value, tuple) else int(value)
    except ValueError:
        raise InvalidParameterValue(f"Invalid experiment id in filter: {value!r}") from None


def _condition(field: str, comparison: Comparison, value=None) -> Q:
    value = comparison.value if value is None else value
    if comparison.op == "!=":
        return ~Q(**{field: value}) & Q(**{f"{field}__isnull": False})
    if comparison.op == "NOT IN":
        return ~Q(**{f"{field}__in": value}) & Q(**{f"{field}__isnull": False})
    lookup = _OPERATORS.get(comparison.op)
    if lookup is None:
        raise InvalidParameterValue(f"Invalid comparator '{comparison.op}' for experiment search.")
    return Q(**{f"{field}__{lookup}": value})
