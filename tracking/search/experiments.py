"""Experiment search: MLflow's filter (with OR, NOT and parentheses) and order_by, as a queryset."""

from __future__ import annotations

from functools import partial

from django.db.models import F, Q, QuerySet

from tracking.errors import InvalidParameterValue
from tracking.times import ms_to_datetime

from .condition_sql import KeyedJoins, column_comparison, condition_sql
from .grammar import Comparison, parse_experiment_filter, parse_experiment_order_by

_ATTRIBUTES = {
    "name": "name",
    "experiment_id": "number",
    "creation_time": "created_at",
    "last_update_time": "updated_at",
}
_TIME_ATTRIBUTES = {"creation_time", "last_update_time"}


def filter_and_order_experiments(queryset: QuerySet, filter_string: str, order_by: list[str]) -> QuerySet:
    joins = KeyedJoins(queryset, {"tag": "tags"})
    where = [
        condition_sql(node, partial(_comparison, joins)) for node in parse_experiment_filter(filter_string)
    ]
    queryset = joins.queryset.filter(*where)

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


def _comparison(joins: KeyedJoins, comparison: Comparison, negated: bool) -> Q:
    op, value = comparison.op, comparison.value
    if comparison.entity == "tag":
        column, row = joins.columns("tag", comparison.key)
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
    return column_comparison(column, op, value, negated)
