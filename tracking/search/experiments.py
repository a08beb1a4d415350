"""Experiment search: MLflow's filter (with OR, NOT and parentheses) and order_by, as a queryset."""

from __future__ import annotations

from django.db.models import F, FilteredRelation, Q, QuerySet

from tracking.errors import InvalidParameterValue
from tracking.times import ms_to_datetime

from . import lookups  # noqa: F401  (registers mlflow_like / mlflow_ilike)
from .boolean_sql import condition_sql
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
    tag_columns: dict[str, tuple[str, str]] = {}

    def tag_column(key: str) -> tuple[str, str]:
        """The tag's value and row id as plain columns of one join (see tracking.search.runs)."""
        if key not in tag_columns:
            alias = f"tag_{len(tag_columns)}"
            tag_columns[key] = (f"{alias}_value", f"{alias}_id")
            nonlocal queryset
            queryset = queryset.alias(**{alias: FilteredRelation("tags", condition=Q(tags__key=key))}).alias(
                **{f"{alias}_value": F(f"{alias}__value"), f"{alias}_id": F(f"{alias}__id")}
            )
        return tag_columns[key]

    def comparison_sql(comparison: Comparison, negated: bool) -> Q:
        return _comparison(comparison, tag_column, negated)

    # The conditions first: they add the tags' joins to `queryset`.
    where = [condition_sql(node, comparison_sql) for node in parse_experiment_filter(filter_string)]
    queryset = queryset.filter(*where)

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


def _comparison(comparison: Comparison, tag_column, negated: bool) -> Q:
    """True or false for every experiment under a NOT (a NULL would make NOT unknown)."""
    op, value = comparison.op, comparison.value
    if comparison.entity == "tag":
        column, row = tag_column(comparison.key)
        if op in ("IS NULL", "IS NOT NULL"):
            return Q(**{f"{row}__isnull": op == "IS NULL"})
    elif comparison.key in _ATTRIBUTES:
        column = _ATTRIBUTES[comparison.key]
        if comparison.key in _TIME_ATTRIBUTES:
            value = ms_to_datetime(int(value), comparison.key)
        elif comparison.key == "experiment_id":
            value = _experiment_numbers(value)
    else:
        raise InvalidParameterValue(f"Invalid attribute key '{comparison.key}' for experiment search.")
    present = Q(**{f"{column}__isnull": False})
    if op == "!=":
        return present & ~Q(**{column: value})
    if op == "NOT IN":
        return present & ~Q(**{f"{column}__in": value})
    lookup = _OPERATORS.get(op)
    if lookup is None:
        raise InvalidParameterValue(f"Invalid comparator '{op}' for experiment search.")
    compared = Q(**{f"{column}__{lookup}": value})
    return present & compared if negated else compared
