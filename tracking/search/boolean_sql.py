"""A parsed filter's AND, OR and NOT, as one Django `Q` over the comparisons' own SQL."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Q

from .conditions import AnyOf, Comparison, Condition, Not

# The SQL of one comparison; `negated` is true under a NOT, where the comparison must be exactly
# true or false for every row: a comparison with NULL is unknown in SQL, and NOT unknown is not
# true. Elsewhere a NULL excludes the row as false would, and the database gets the shorter SQL.
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
