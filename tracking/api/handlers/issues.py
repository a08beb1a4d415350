"""Issue RPCs (MLflow 3 GenAI, /api/3.0/mlflow/issues)."""

from __future__ import annotations

from typing import Any

from tracking.models import Issue
from tracking.queries import issues as queries
from tracking.queries.experiments import get_experiment
from tracking.queries.runs import get_run
from tracking.services import issues as services
from tracking.times import datetime_to_ms

from ..responses import page_message
from ..router import ApiCall, rpc


def issue_message(issue: Issue, trace_count: int | None = None, *, basic: bool = False) -> dict[str, Any]:
    """The issue as MLflow writes it; `basic` (a search's "basic" view): with an empty
    description, and neither its root causes nor its metadata."""
    message: dict[str, Any] = {
        "issue_id": issue.issue_id,
        "experiment_id": issue.experiment.experiment_id,
        "name": issue.name,
        "description": "" if basic else issue.description,
        "status": issue.status,
        "created_timestamp": datetime_to_ms(issue.created_at),
        "last_updated_timestamp": datetime_to_ms(issue.updated_at),
        "last_seen_timestamp": datetime_to_ms(issue.last_seen),
    }
    optional = {
        "severity": issue.severity,
        "root_causes": None if basic else issue.root_causes,
        "source_run_id": issue.source_run.uuid if issue.source_run_id else None,
        "categories": issue.categories,
        "created_by": issue.created_by,
        "last_updated_by": issue.last_updated_by,
        "trace_count": trace_count,
        "metadata": None if basic else issue.metadata,
    }
    return message | {
        name: value for name, value in optional.items() if value is not None and value != [] and value != {}
    }


@rpc("mlflow.issues.CreateIssue")
def create_issue(call: ApiCall) -> dict[str, Any]:
    message = call.message
    source_run_id = message.get("source_run_id")
    issue = services.create_issue(
        experiment=get_experiment(call.workspace, message["experiment_id"]),
        name=message["name"],
        description=message["description"],
        status=message.get("status"),
        severity=message.get("severity"),
        root_causes=message.get("root_causes", []),
        categories=message.get("categories", []),
        source_run=get_run(call.workspace, source_run_id) if source_run_id else None,
        # Who signed in, when someone did; what the client says otherwise (as MLflow).
        created_by=call.principal.username or message.get("created_by"),
        issue_id=message.get("issue_id") or None,
        last_seen_ms=message.get("last_seen_timestamp"),
        metadata=message.get("metadata"),
    )
    return {"issue": issue_message(issue)}


@rpc("mlflow.issues.GetIssue")
def get_issue(call: ApiCall) -> dict[str, Any]:
    return {"issue": issue_message(queries.get_issue(call.workspace, call.message["issue_id"]))}


@rpc("mlflow.issues.UpdateIssue")
def update_issue(call: ApiCall) -> dict[str, Any]:
    message = call.message
    issue = services.update_issue(
        issue=queries.get_issue(call.workspace, message["issue_id"]),
        name=message.get("name"),
        description=message.get("description"),
        status=message.get("status"),
        severity=message.get("severity"),
        # Absent: kept; an empty list: cleared.
        categories=message.get("categories"),
        last_seen_ms=message.get("last_seen_timestamp"),
        updated_by=call.principal.username or message.get("last_updated_by"),
        metadata=message.get("metadata"),
        delete_metadata_keys=message.get("delete_metadata_keys"),
    )
    return {"issue": issue_message(issue)}


@rpc("mlflow.issues.SearchIssues")
def search_issues(call: ApiCall) -> dict[str, Any]:
    message = call.message
    query = queries.IssueQuery(
        name=message.get("name"),
        statuses=tuple(message.get("statuses", ())),
        severities=tuple(message.get("severities", ())),
        categories=tuple(message.get("categories", ())),
        order_by=tuple(message.get("order_by", ())),
        include_total_count=bool(message.get("include_total_count")),
        view=message.get("view"),
    )
    page = queries.search_issues(
        call.workspace,
        experiment_id=message.get("experiment_id"),
        filter_string=message.get("filter_string") or "",
        max_results=message.get("max_results"),
        page_token=message.get("page_token"),
        include_trace_count=bool(message.get("include_trace_count")),
        query=query,
    )
    issues = [issue_message(i, getattr(i, "trace_count", None), basic=page.basic) for i in page.issues]
    answer = page_message("issues", issues, None)
    # MLflow's server always writes the token, empty on the last page.
    answer["next_page_token"] = page.next_page_token or ""
    if page.total_count is not None:
        answer["total_count"] = page.total_count
    return answer
