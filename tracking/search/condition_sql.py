"""What the run and experiment searches share to turn a parsed filter into SQL: one outer join
per (entity, key) read as plain columns, a comparison of such a column, and AND, OR and NOT over
the comparisons as one Django `Q`.

Every condition must mean what `conditions` says: true or false for every row, never SQL's
unknown. A comparison with NULL (a missing key, a NaN, an unset end time) is unknown, and NOT of
unknown is unknown, not true; so under a NOT (`negated`) each comparison first requires its value.
Elsewhere a NULL excludes the row as false would, and the database gets the shorter SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from django.db.models import F, FilteredRelation, Q, QuerySet

from tracking.errors import InvalidParameterValue

from . import lookups  # noqa: F401  (registers mlflow_like / mlflow_ilike)
from .conditions import AnyOf, Comparison, Condition, Not

LOOKUPS = {
    "=": "exact",
    "<": "lt",
    "<=": "lte",
    ">": "gt",
    ">=": "gte",
    "LIKE": "mlflow_like",
    "ILIKE": "mlflow_ilike",
    "IN": "in",
}

ComparisonSql = Callable[[Comparison, bool], Q]


def condition_sql(condition: Condition, comparison_sql: ComparisonSql, negated: bool = False) -> Q:
    if isinstance(condition, Comparison):
        return comparison_sql(condition, negated)
    if isinstance(condition, Not):
        return ~condition_sql(condition.condition, comparison_sql, negated=True)
    parts = [condition_sql(part, comparison_sql, negated) for part in condition.conditions]
    combined = parts[0]
    for part in parts[1:]:
        combined = combined | part if isinstance(condition, AnyOf) else combined & part
    return combined


def lookup(op: str) -> str:
    found = LOOKUPS.get(op)
    if found is None:
        raise InvalidParameterValue(f"Invalid comparator '{op}'.")
    return found


def column_comparison(column: str, op: str, value, negated: bool) -> Q:
    """`column op value` for a column that may be NULL; `!=` and NOT IN need a value, as in MLflow."""
    present = Q(**{f"{column}__isnull": False})
    if op == "!=":
        return present & ~Q(**{column: value})
    if op == "NOT IN":
        return present & ~Q(**{f"{column}__in": value})
    compared = Q(**{f"{column}__{lookup(op)}": value})
    return present & compared if negated else compared


class KeyedJoins:
    """One outer join per (entity, key) of the relations named, shared by the filter and the
    ordering. Its value and id are also plain columns: conditions on them are compiled as
    written (Django would turn a negated condition on a to-many join into a subquery with a
    meaning of its own)."""

    def __init__(self, queryset: QuerySet, relations: Mapping[str, str]) -> None:
        self.queryset = queryset
        self.relations = relations
        self.aliases: dict[tuple[str, str], str] = {}
        self.with_columns: set[str] = set()

    def alias(self, entity: str, key: str) -> str:
        found = self.aliases.get((entity, key))
        if found is None:
            relation = self.relations[entity]
            found = f"{entity}_{len(self.aliases)}"
            self.aliases[(entity, key)] = found
            self.queryset = self.queryset.alias(
                **{found: FilteredRelation(relation, condition=Q(**{f"{relation}__key": key}))}
            )
        return found

    def columns(self, entity: str, key: str) -> tuple[str, str]:
        """The names of the joined row's value and id."""
        alias = self.alias(entity, key)
        if alias not in self.with_columns:
            self.with_columns.add(alias)
            self.queryset = self.queryset.alias(
                **{f"{alias}_value": F(f"{alias}__value"), f"{alias}_id": F(f"{alias}__id")}
            )
        return f"{alias}_value", f"{alias}_id"
