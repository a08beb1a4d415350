"""Looking up and searching a workspace's issues."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import Assessment, Issue, Workspace
from tracking.models.assessments import ISSUE
from tracking.models.issues import category_key
from tracking.search.issues import Ordering, filter_issues, order_as_mlflow
from tracking.search.paging import MAX_OFFSET, cut_page, decode_offset, decode_token, encode_token
from tracking.services.issues import (
    MAX_LIST_ITEMS,
    MAX_NAME_LENGTH,
    check_categories,
    check_severity,
    check_status,
)
from tracking.validation import check_max_results

from .experiments import get_experiment

DEFAULT_SEARCH_RESULTS = 100
MAX_SEARCH_RESULTS = 1000
VIEWS = ("basic", "full")
_BAD_TOKEN = "Invalid page token or token does not match the issue query"


def get_issue(workspace: Workspace, issue_id: str) -> Issue:
    try:
        return Issue.objects.select_related("experiment", "source_run").get(
            issue_id=issue_id, workspace=workspace
        )
    except Issue.DoesNotExist:
        raise ResourceDoesNotExist(f"Issue with ID '{issue_id}' not found") from None


@dataclass
class IssuePage:
    issues: list[Issue]
    next_page_token: str | None
    total_count: int | None = None  # when asked for: how many match, all pages together
    basic: bool = False  # the "basic" view: no description, root causes or metadata


@dataclass(frozen=True)
class IssueQuery:
    """What a search asks for beside its page: MLflow 3.18's fields. A query that uses none of
    them pages as MLflow 3.17's did (a token is an offset); one that does gets tokens bound to it."""

    name: str | None = None
    statuses: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()
    include_total_count: bool = False
    view: str | None = None

    def __post_init__(self) -> None:
        if self.name is not None and len(self.name) > MAX_NAME_LENGTH:
            raise InvalidParameterValue(f"'name' must be a string of at most {MAX_NAME_LENGTH} characters.")
        for field in ("statuses", "severities", "order_by"):
            if len(getattr(self, field)) > MAX_LIST_ITEMS:
                raise InvalidParameterValue(f"'{field}' must be a list of at most {MAX_LIST_ITEMS} strings.")
        for status in self.statuses:
            check_status(status)
        for severity in self.severities:
            check_severity(severity)
        check_categories(list(self.categories))
        if self.view is not None and self.view not in VIEWS:
            raise InvalidParameterValue(f"Invalid view {self.view[:100]!r}: 'basic' or 'full'.")

    @property
    def is_plain(self) -> bool:
        return self == IssueQuery()


def search_issues(
    workspace: Workspace,
    *,
    experiment_id: str | None = None,
    filter_string: str = "",
    max_results: int | None = None,
    page_token: str | None = None,
    include_trace_count: bool = False,
    query: IssueQuery = IssueQuery(),
) -> IssuePage:
    """In MLflow's order (tracking.search.issues.order_as_mlflow) or the query's `order_by`; with
    `include_trace_count`, each issue's `trace_count` (with_trace_counts)."""
    max_results = check_max_results(
        DEFAULT_SEARCH_RESULTS if max_results is None else max_results, MAX_SEARCH_RESULTS
    )
    ordering = Ordering.parse(list(query.order_by)) if query.order_by else None
    fingerprint = (
        None
        if query.is_plain
        else _fingerprint(workspace, experiment_id, filter_string, include_trace_count, query)
    )
    offset, after = _position(page_token, fingerprint, ordering)
    queryset = Issue.objects.filter(workspace=workspace)
    if experiment_id:
        queryset = queryset.filter(experiment=get_experiment(workspace, experiment_id))
    queryset = filter_issues(
        queryset,
        filter_string,
        name=query.name,
        statuses=list(query.statuses),
        severities=list(query.severities),
        categories=list(query.categories),
    )
    total_count = queryset.count() if query.include_total_count else None
    if include_trace_count:
        queryset = with_trace_counts(queryset)
    if ordering is not None:
        queryset = ordering.apply(queryset, after)
    else:
        queryset = order_as_mlflow(queryset, by_trace_count=include_trace_count)
    queryset = queryset.select_related("experiment", "source_run")
    basic = query.view == "basic"
    if basic:
        queryset = queryset.defer("description", "root_causes", "metadata")
    rows = list(queryset[offset : offset + max_results + 1])
    if ordering is not None:
        page = rows[:max_results]
        token = None
        if len(rows) > max_results:
            token = encode_token(after=ordering.token_values(page[-1]), query=fingerprint)
    else:
        page, token = cut_page(rows, offset, max_results)
        if token and fingerprint:
            token = encode_token(offset=offset + max_results, query=fingerprint)
    return IssuePage(page, token, total_count, basic)


def _fingerprint(
    workspace: Workspace, experiment_id, filter_string, include_trace_count, query: IssueQuery
) -> str:
    """What a page token is bound to: the whole query but its page size and position."""
    described = {
        "workspace": workspace.pk,
        "experiment_id": experiment_id or None,
        "filter_string": filter_string,
        "include_trace_count": include_trace_count,
        "name": query.name,
        "statuses": sorted(set(query.statuses)),
        "severities": sorted(set(query.severities)),
        "categories": sorted({category_key(category) for category in query.categories}),
        "order_by": list(query.order_by),
        "include_total_count": query.include_total_count,
        "view": query.view,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:32]


def _position(
    page_token: str | None, fingerprint: str | None, ordering: Ordering | None
) -> tuple[int, list | None]:
    """The offset, or the sort values to go past, that a token gives."""
    if fingerprint is None:
        return decode_offset(page_token), None
    if not page_token:
        return 0, None
    try:
        position = decode_token(page_token)
        if position.get("query") != fingerprint:
            raise ValueError("another query's token")
        if ordering is not None:
            return 0, ordering.validated_after(position.get("after"))
        offset = position.get("offset")
        if type(offset) is not int or not 0 <= offset <= MAX_OFFSET:
            raise ValueError("an offset")
        return offset, None
    except (ValueError, TypeError, InvalidParameterValue):
        raise InvalidParameterValue(_BAD_TOKEN) from None


def with_trace_counts(issues: QuerySet[Issue]) -> QuerySet[Issue]:
    """Each issue annotated with `trace_count`, as MLflow's server counts it: the distinct traces
    that an issue reference (an assessment of type "issue" named by the issue's id) links to it,
    among the traces of the issue's own workspace. A subquery in the same SELECT: one query."""
    linked = (
        Assessment.objects.filter(
            assessment_type=ISSUE,
            name=OuterRef("issue_id"),
            trace__workspace=OuterRef("workspace"),
        )
        .order_by()
        .values("name")
        .annotate(count=Count("trace", distinct=True))
        .values("count")
    )
    return issues.annotate(trace_count=Coalesce(Subquery(linked, output_field=IntegerField()), Value(0)))
