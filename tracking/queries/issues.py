"""Looking up and searching a workspace's issues."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from tracking.errors import ResourceDoesNotExist
from tracking.models import Assessment, Issue, Workspace
from tracking.models.assessments import ISSUE
from tracking.search.issues import filter_and_order_issues
from tracking.search.paging import cut_page, decode_offset
from tracking.validation import check_max_results

from .experiments import get_experiment

DEFAULT_SEARCH_RESULTS = 100
MAX_SEARCH_RESULTS = 1000


def get_issue(workspace: Workspace, issue_id: str) -> Issue:
    try:
        return Issue.objects.select_related("experiment", "source_run").get(
            issue_id=issue_id, experiment__workspace=workspace
        )
    except Issue.DoesNotExist:
        raise ResourceDoesNotExist(f"Issue with ID '{issue_id}' not found") from None


@dataclass
class IssuePage:
    issues: list[Issue]
    next_page_token: str | None


def search_issues(
    workspace: Workspace,
    *,
    experiment_id: str | None = None,
    filter_string: str = "",
    max_results: int | None = None,
    page_token: str | None = None,
    include_trace_count: bool = False,
) -> IssuePage:
    """The most severe first, then the newest (MLflow's order); with `include_trace_count`, each
    issue's `trace_count` (tracking.queries.issues.with_trace_counts), which orders after severity."""
    max_results = check_max_results(
        DEFAULT_SEARCH_RESULTS if max_results is None else max_results, MAX_SEARCH_RESULTS
    )
    offset = decode_offset(page_token)
    queryset = Issue.objects.filter(experiment__workspace=workspace)
    if experiment_id:
        queryset = queryset.filter(experiment=get_experiment(workspace, experiment_id))
    if include_trace_count:
        queryset = with_trace_counts(queryset)
    queryset = filter_and_order_issues(queryset, filter_string, by_trace_count=include_trace_count)
    queryset = queryset.select_related("experiment", "source_run")
    page, next_token = cut_page(list(queryset[offset : offset + max_results + 1]), offset, max_results)
    return IssuePage(page, next_token)


def with_trace_counts(issues: QuerySet[Issue]) -> QuerySet[Issue]:
    """Each issue annotated with `trace_count`, as MLflow's server counts it: the distinct traces
    that an issue reference (an assessment of type "issue" named by the issue's id) links to it,
    among the traces of the issue's own workspace. A subquery in the same SELECT: one query."""
    linked = (
        Assessment.objects.filter(
            assessment_type=ISSUE,
            name=OuterRef("issue_id"),
            trace__workspace=OuterRef("experiment__workspace"),
        )
        .order_by()
        .values("name")
        .annotate(count=Count("trace", distinct=True))
        .values("count")
    )
    return issues.annotate(trace_count=Coalesce(Subquery(linked, output_field=IntegerField()), Value(0)))
