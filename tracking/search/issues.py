"""Issue search: MLflow's filter on status and source run (more plain fields here); the fields
MLflow 3.18 added (a name's substring, lists of statuses, severities and categories); and the
order: MLflow's own by default (the most severe first, then, when they are counted, those of the
most traces, then the newest), or the client's `order_by`, paged by the last row's sort values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Exists, F, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, Lower

from tracking.errors import InvalidParameterValue
from tracking.models import IssueCategory
from tracking.models.issues import SEVERITIES, STATUSES, category_key
from tracking.times import datetime_to_ms, ms_to_datetime

from .condition_sql import column_comparison
from .grammar import parse_issue_filter

_COLUMNS = {
    "status": "status",
    "severity": "severity",
    "name": "name",
    "created_by": "created_by",
    "source_run_id": "source_run__uuid",
}


def _rank(field: str, values: tuple[str, ...]) -> Case:
    return Case(
        *(When(**{field: name}, then=Value(rank)) for rank, name in enumerate(values)),
        default=Value(-1),
        output_field=IntegerField(),
    )


@dataclass(frozen=True)
class _SortKey:
    expression: Any
    is_time: bool  # a datetime in the database, milliseconds in a page token


# What `order_by` may name: statuses in their workflow order, severities from the least severe,
# names ignoring case, and a time never seen read as the creation time.
SORT_KEYS = {
    "name": _SortKey(Lower("name"), is_time=False),
    "status": _SortKey(_rank("status", STATUSES), is_time=False),
    "severity": _SortKey(_rank("severity", SEVERITIES), is_time=False),
    "created_timestamp": _SortKey(F("created_at"), is_time=True),
    "last_updated_timestamp": _SortKey(F("updated_at"), is_time=True),
    "last_seen_timestamp": _SortKey(Coalesce("last_seen_at", "created_at"), is_time=True),
}


def filter_issues(
    queryset: QuerySet,
    filter_string: str,
    *,
    name: str | None = None,
    statuses: list[str] = (),
    severities: list[str] = (),
    categories: list[str] = (),
) -> QuerySet:
    """Every given condition holds; within a list, any of its values (categories by their key)."""
    where: list[Q] = [
        column_comparison(_COLUMNS[comparison.key], comparison.op, comparison.value, negated=False)
        for comparison in parse_issue_filter(filter_string)
    ]
    if name:
        where.append(Q(name__icontains=name))
    if statuses:
        where.append(Q(status__in=statuses))
    if severities:
        where.append(Q(severity__in=severities))
    if categories:
        keys = sorted({category_key(category) for category in categories})
        where.append(Exists(IssueCategory.objects.filter(issue=OuterRef("pk"), key__in=keys)))
    return queryset.filter(*where)


def order_as_mlflow(queryset: QuerySet, *, by_trace_count: bool = False) -> QuerySet:
    """`by_trace_count`: the queryset is annotated with `trace_count`, which orders after severity."""
    return queryset.annotate(severity_rank=SORT_KEYS["severity"].expression).order_by(
        F("severity_rank").desc(),
        *([F("trace_count").desc()] if by_trace_count else []),
        F("created_at").desc(),
        F("issue_id").desc(),
    )


@dataclass(frozen=True)
class Ordering:
    """A client's `order_by`: each key and whether it descends, then the issue id descending."""

    keys: tuple[tuple[str, bool], ...]

    @classmethod
    def parse(cls, order_by: list[str]) -> Ordering:
        keys = []
        for clause in order_by:
            words = clause.split()
            if (
                not 1 <= len(words) <= 2
                or words[0] not in SORT_KEYS
                or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC"))
            ):
                raise InvalidParameterValue(
                    f"Invalid issue order_by {clause[:250]!r}: a field of {sorted(SORT_KEYS)}, "
                    "optionally followed by ASC or DESC."
                )
            keys.append((words[0], len(words) == 2 and words[1].upper() == "DESC"))
        return cls(tuple(keys))

    def _columns(self) -> list[tuple[str, bool]]:
        return [(f"sort_{i}", descending) for i, (_, descending) in enumerate(self.keys)] + [
            ("issue_id", True)
        ]

    def apply(self, queryset: QuerySet, after: list | None) -> QuerySet:
        """Ordered, and past the row whose sort values are `after` (`validated_after`) if given."""
        queryset = queryset.annotate(
            **{f"sort_{i}": SORT_KEYS[key].expression for i, (key, _) in enumerate(self.keys)}
        )
        columns = self._columns()
        if after is not None:
            past = Q()
            for i, (column, descending) in enumerate(columns):
                step = Q(**{f"{column}__{'lt' if descending else 'gt'}": after[i]})
                past |= Q(**dict(zip((c for c, _ in columns[:i]), after[:i], strict=True))) & step
            queryset = queryset.filter(past)
        return queryset.order_by(*(F(c).desc() if descending else F(c).asc() for c, descending in columns))

    def token_values(self, issue) -> list:
        """The sort values of a row of `apply`, as a page token carries them (times in ms)."""
        values = [getattr(issue, f"sort_{i}") for i in range(len(self.keys))] + [issue.issue_id]
        return [
            datetime_to_ms(v) if key and SORT_KEYS[key].is_time else v
            for key, v in zip(self._names(), values, strict=True)
        ]

    def _names(self) -> list[str | None]:
        return [key for key, _ in self.keys] + [None]

    def validated_after(self, after: object) -> list:
        """A token's sort values, checked against this ordering (ValueError if they do not fit)."""
        if not isinstance(after, list) or len(after) != len(self.keys) + 1:
            raise ValueError("a sort value per key")
        values = []
        for key, value in zip(self._names(), after, strict=True):
            text = key in (None, "name")
            if text and not (isinstance(value, str) and len(value) <= 250):
                raise ValueError("a text sort value")
            if not text and (type(value) is not int or not -(2**63) <= value < 2**63):
                raise ValueError("a whole-number sort value")
            values.append(ms_to_datetime(value) if key and SORT_KEYS[key].is_time else value)
        return values
