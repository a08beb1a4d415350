"""Issue search: MLflow's filter on status and source run (more plain fields here), and its order:
the most severe first (then, when they are counted, those of the most traces), then the newest."""

from __future__ import annotations

from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When

from tracking.models.issues import SEVERITIES

from .condition_sql import column_comparison
from .grammar import parse_issue_filter

_COLUMNS = {
    "status": "status",
    "severity": "severity",
    "name": "name",
    "created_by": "created_by",
    "source_run_id": "source_run__uuid",
}


def filter_and_order_issues(
    queryset: QuerySet, filter_string: str, *, by_trace_count: bool = False
) -> QuerySet:
    """`by_trace_count`: the queryset is annotated with `trace_count`, which orders after severity."""
    where: list[Q] = [
        column_comparison(_COLUMNS[comparison.key], comparison.op, comparison.value, negated=False)
        for comparison in parse_issue_filter(filter_string)
    ]
    severity_rank = Case(
        *(When(severity=name, then=Value(rank)) for rank, name in enumerate(SEVERITIES)),
        default=Value(-1),
        output_field=IntegerField(),
    )
    return (
        queryset.filter(*where)
        .annotate(severity_rank=severity_rank)
        .order_by(
            F("severity_rank").desc(),
            *([F("trace_count").desc()] if by_trace_count else []),
            F("created_at").desc(),
            F("issue_id").desc(),
        )
    )
