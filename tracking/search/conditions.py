"""What a parsed search is made of: comparisons, the boolean operators over them, order keys.

A filter parses to a list of conditions that must all hold. Where the search allows it (runs and
experiments), a condition may be `AnyOf` (OR), `AllOf` (parentheses, AND) or `Not`; elsewhere it
is always a `Comparison`, as in MLflow.

Every condition is true or false for every row, never unknown: a comparison with a key the row
does not have is false (so `NOT metrics.acc > 0.9` holds for a run without `acc`), and a NaN
metric compares false except with `!=`, as in MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Comparison:
    entity: str  # "metric" | "param" | "tag" | "attribute" | "dataset"
    key: str  # metric/param/tag key, canonical attribute name, or dataset field
    op: str  # "=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL"
    value: float | int | str | tuple[str, ...] | tuple[float, ...] | None


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one of the conditions holds (OR)."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every condition holds (AND inside parentheses or under OR)."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    condition: Condition


Condition = Comparison | AnyOf | AllOf | Not


@dataclass(frozen=True, slots=True)
class OrderKey:
    entity: str  # "metric" | "param" | "tag" | "attribute"
    key: str
    ascending: bool


def comparisons_in(conditions: list[Condition] | tuple[Condition, ...]) -> list[Comparison]:
    """Every comparison of a parsed filter, left to right."""
    found: list[Comparison] = []
    stack = list(reversed(conditions))
    while stack:
        condition = stack.pop()
        if isinstance(condition, Comparison):
            found.append(condition)
        elif isinstance(condition, Not):
            stack.append(condition.condition)
        else:
            stack.extend(reversed(condition.conditions))
    return found


NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE"})
LIST_OPS = frozenset({"IN", "NOT IN"})
NULL_OPS = frozenset({"IS NULL", "IS NOT NULL"})
OP_ORDER = ("=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL")
