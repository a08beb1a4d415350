"""Evaluation dataset search: MLflow's filter (attributes and tags, joined by AND) and order_by."""

from __future__ import annotations

from functools import partial

from django.db.models import F, Q, QuerySet

from tracking.times import ms_to_datetime

from .condition_sql import KeyedJoins, column_comparison, condition_sql
from .grammar import Comparison, parse_evaluation_dataset_filter, parse_evaluation_dataset_order_by

_COLUMNS = {
    "name": "name",
    "created_by": "created_by",
    "last_updated_by": "last_updated_by",
    "created_time": "created_at",
    "last_update_time": "updated_at",
}
_TIMES = {"created_time", "last_update_time"}


def filter_and_order_evaluation_datasets(
    queryset: QuerySet, filter_string: str, order_by: list[str]
) -> QuerySet:
    joins = KeyedJoins(queryset, {"tag": "tags"})
    where = [
        condition_sql(node, partial(_comparison, joins))
        for node in parse_evaluation_dataset_filter(filter_string)
    ]
    queryset = joins.queryset.filter(*where)
    # MLflow's default is the newest first; the dataset id breaks ties, as there.
    keys = parse_evaluation_dataset_order_by(order_by) or []
    ordering = [F(_COLUMNS[key.key]).asc() if key.ascending else F(_COLUMNS[key.key]).desc() for key in keys]
    if not ordering:
        ordering.append(F("created_at").desc())
    ordering.append(F("dataset_id").desc())
    return queryset.order_by(*ordering)


def _comparison(joins: KeyedJoins, comparison: Comparison, negated: bool) -> Q:
    value = comparison.value
    if comparison.entity == "tag":
        column, _ = joins.columns("tag", comparison.key)
    else:
        column = _COLUMNS[comparison.key]
        if comparison.key in _TIMES:
            value = ms_to_datetime(int(value), comparison.key)  # type: ignore[arg-type]
    return column_comparison(column, comparison.op, value, negated)
