"""Looking up and searching a workspace's issues."""

from __future__ import annotations

from dataclasses import dataclass

from tracking.errors import ResourceDoesNotExist
from tracking.models import Issue, Workspace
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
) -> IssuePage:
    """The most severe first, then the newest (MLflow's order)."""
    max_results = check_max_results(
        DEFAULT_SEARCH_RESULTS if max_results is None else max_results, MAX_SEARCH_RESULTS
    )
    offset = decode_offset(page_token)
    queryset = Issue.objects.filter(experiment__workspace=workspace)
    if experiment_id:
        queryset = queryset.filter(experiment=get_experiment(workspace, experiment_id))
    queryset = filter_and_order_issues(queryset, filter_string).select_related("experiment", "source_run")
    page, next_token = cut_page(list(queryset[offset : offset + max_results + 1]), offset, max_results)
    return IssuePage(page, next_token)
