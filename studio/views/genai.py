"""Studio pages of MLflow 3's GenAI evaluation: a workspace's evaluation datasets (and an
experiment's Datasets tab), a dataset with a page of its records, an experiment's Scorers tab and
a scorer's version history, an experiment's Issues tab and an issue's page.

Everything shown is the client's text, escaped by the templates: records and serialized scorers
are JSON shown as text (truncated in tables, whole in a <details> beside them), nothing is marked
safe and no page runs a script of its own. The reads are `tracking.queries.genai_pages`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from studio.lookups import experiment_or_404
from studio.pages import choice, page_number, pager_links
from studio.routing import workspace_route
from studio.span_tree import pretty_json
from tracking.errors import ResourceDoesNotExist
from tracking.models import Experiment, Workspace
from tracking.models.issues import SEVERITIES, STATUSES
from tracking.queries.genai_pages import (
    dataset_detail,
    dataset_listing,
    experiment_issue,
    experiment_scorers,
    issue_listing,
    issue_status_counts,
    scorer_detail,
    user_tags,
)

from .traces import experiment_context

# A table cell shows this much of a JSON value; the whole value is one click away.
PREVIEW_CHARS = 160
SEVERITY_LABELS = {"not_an_issue": "Not an issue", "low": "Low", "medium": "Medium", "high": "High"}
STATUS_LABELS = {"pending": "Pending", "rejected": "Rejected", "resolved": "Resolved"}


@dataclass(slots=True)
class JsonValue:
    """A JSON value as a page shows it: a one-line preview, and the whole value indented."""

    preview: str
    full: str
    cut: bool  # the preview is shorter than the value

    @classmethod
    def of(cls, value: Any) -> JsonValue | None:
        """None for no value (null, or the empty object MLflow sends for none)."""
        if value is None or value == {}:
            return None
        compact = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        cut = len(compact) > PREVIEW_CHARS
        return cls(
            preview=f"{compact[:PREVIEW_CHARS]}…" if cut else compact,
            full=value if isinstance(value, str) else pretty_json(value),
            cut=cut,
        )


# --- Evaluation datasets ------------------------------------------------------------------------


@require_GET
def datasets(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    listing = dataset_listing(workspace, query=query, page=page_number(request))
    return render(
        request,
        "studio/genai/datasets.html",
        {
            "workspace": workspace,
            "area": "datasets",
            "listing": listing,
            "query": query,
            **pager_links(request, listing.page, listing.has_next),
        },
    )


@require_GET
def experiment_datasets(request: HttpRequest, workspace: Workspace, experiment_id: str) -> HttpResponse:
    exp = experiment_or_404(workspace, experiment_id)
    query = request.GET.get("q", "").strip()
    listing = dataset_listing(workspace, query=query, experiment=exp, page=page_number(request))
    context = experiment_context(workspace, exp)
    context.update(
        tab="datasets", listing=listing, query=query, **pager_links(request, listing.page, listing.has_next)
    )
    return render(request, "studio/genai/experiment_datasets.html", context)


@require_GET
def dataset(request: HttpRequest, workspace: Workspace, dataset_id: str) -> HttpResponse:
    try:
        detail = dataset_detail(workspace, dataset_id, page=page_number(request))
    except ResourceDoesNotExist:
        raise Http404(f"No evaluation dataset {dataset_id!r}") from None
    records = [
        {
            "record": record,
            "inputs": JsonValue.of(record.inputs),
            "expectations": JsonValue.of(record.expectations),
            "outputs": JsonValue.of(record.outputs),
            "tags": user_tags(sorted(record.tags.items())) if isinstance(record.tags, dict) else [],
            "trace_experiment": detail.trace_experiments.get(record.source_id or ""),
        }
        for record in detail.records.rows
    ]
    tags = detail.row.tags
    return render(
        request,
        "studio/genai/dataset.html",
        {
            "workspace": workspace,
            "area": "datasets",
            "row": detail.row,
            "dataset": detail.row.dataset,
            "listing": detail.records,
            "records": records,
            "has_outputs": any(item["outputs"] is not None for item in records),
            "has_tags": any(item["tags"] for item in records),
            "tags": {
                "count": len(tags),
                "user": detail.row.user_tags,
                "system": [pair for pair in tags if pair not in detail.row.user_tags],
            },
            "schema": pretty_json(detail.row.dataset.schema) if detail.row.dataset.schema else "",
            **pager_links(request, detail.records.page, detail.records.has_next),
        },
    )


def _decoded(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


# --- Scorers ------------------------------------------------------------------------------------


@dataclass(slots=True)
class ScorerKind:
    """What a serialized scorer is, read from its JSON (never run): its kind, the judge's model
    and, for an @scorer function, its source."""

    kind: str
    model: str
    source: str
    description: str

    @classmethod
    def of(cls, serialized: str | None) -> ScorerKind:
        data = _decoded(serialized)
        data = data if isinstance(data, dict) else {}
        builtin = data.get("builtin_scorer_pydantic_data")
        judge = data.get("instructions_judge_pydantic_data")
        if data.get("builtin_scorer_class"):
            kind = f"Built-in · {data['builtin_scorer_class']}"
        elif judge:
            kind = "LLM judge"
        elif data.get("call_source"):
            kind = f"@scorer · {data.get('original_func_name') or data.get('name') or 'function'}"
        else:
            kind = "Custom"
        model = next(
            (part["model"] for part in (builtin, judge) if isinstance(part, dict) and part.get("model")), ""
        )
        return cls(
            kind=str(kind),
            model=str(model),
            source=str(data.get("call_source") or ""),
            description=str(data.get("description") or ""),
        )


@require_GET
def scorers(request: HttpRequest, workspace: Workspace, experiment_id: str) -> HttpResponse:
    exp = experiment_or_404(workspace, experiment_id)
    context = experiment_context(workspace, exp)
    context.update(
        tab="scorers",
        scorers=[
            (scorer, ScorerKind.of(scorer.latest_serialized), getattr(scorer, "online_scoring_config", None))
            for scorer in experiment_scorers(exp)
        ],
    )
    return render(request, "studio/genai/scorers.html", context)


@require_GET
def scorer(request: HttpRequest, workspace: Workspace, experiment_id: str, name: str) -> HttpResponse:
    exp = experiment_or_404(workspace, experiment_id)
    try:
        detail = scorer_detail(exp, name)
    except ResourceDoesNotExist:
        raise Http404(f"No scorer {name!r}") from None
    return _in_experiment(
        request,
        "studio/genai/scorer.html",
        workspace,
        exp,
        scorer=detail.scorer,
        config=detail.online_config,
        latest=ScorerKind.of(detail.versions[0].serialized_scorer),
        versions=[
            (version, ScorerKind.of(version.serialized_scorer), pretty_json(version.serialized_scorer))
            for version in detail.versions
        ],
    )


# --- Issues -------------------------------------------------------------------------------------


@require_GET
def issues(request: HttpRequest, workspace: Workspace, experiment_id: str) -> HttpResponse:
    exp = experiment_or_404(workspace, experiment_id)
    query = request.GET.get("q", "").strip()
    status = choice(request, "status", STATUSES)
    severity = choice(request, "severity", SEVERITIES)
    listing = issue_listing(exp, query=query, status=status, severity=severity, page=page_number(request))
    context = experiment_context(workspace, exp)
    context.update(
        tab="issues",
        listing=listing,
        rows=[(issue, _label(issue)) for issue in listing.rows],
        query=query,
        status=status,
        severity=severity,
        statuses=list(STATUS_LABELS.items()),
        severities=[(key, SEVERITY_LABELS[key]) for key in reversed(SEVERITIES)],
        status_counts=[(STATUS_LABELS[key], count) for key, count in issue_status_counts(exp).items()],
        filtered=bool(query or status or severity),
        **pager_links(request, listing.page, listing.has_next),
    )
    return render(request, "studio/genai/issues.html", context)


@require_GET
def issue(request: HttpRequest, workspace: Workspace, experiment_id: str, issue_id: str) -> HttpResponse:
    exp = experiment_or_404(workspace, experiment_id)
    try:
        found = experiment_issue(exp, issue_id)
    except ResourceDoesNotExist:
        raise Http404(f"No issue {issue_id!r}") from None
    return _in_experiment(
        request,
        "studio/genai/issue.html",
        workspace,
        exp,
        issue=found,
        labels=_label(found),
        root_causes=_strings(found.root_causes),
        categories=_strings(found.categories),
        metadata=sorted(found.metadata.items()) if isinstance(found.metadata, dict) else [],
        trace_count=found.trace_count,
        trace_filter=f"issue.id = '{found.issue_id}'",
    )


def _in_experiment(
    request: HttpRequest, template: str, workspace: Workspace, exp: Experiment, **context: Any
) -> HttpResponse:
    """A page of one object of an experiment (a scorer, an issue), under the experiment's crumbs."""
    context.update(workspace=workspace, area="experiments", experiment=exp)
    return render(request, template, context)


def _label(issue: Any) -> dict[str, str]:
    return {
        "status": STATUS_LABELS.get(issue.status, issue.status),
        "severity": SEVERITY_LABELS.get(issue.severity or "", issue.severity or ""),
    }


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


_EXPERIMENT = "ws/<slug:workspace>/experiments/<str:experiment_id>/"
urlpatterns = [
    workspace_route("ws/<slug:workspace>/datasets/", datasets, name="datasets"),
    workspace_route("ws/<slug:workspace>/datasets/<str:dataset_id>/", dataset, name="dataset"),
    workspace_route(f"{_EXPERIMENT}datasets/", experiment_datasets, name="experiment-datasets"),
    workspace_route(f"{_EXPERIMENT}scorers/", scorers, name="experiment-scorers"),
    workspace_route(f"{_EXPERIMENT}scorers/<path:name>/", scorer, name="scorer"),
    workspace_route(f"{_EXPERIMENT}issues/", issues, name="experiment-issues"),
    workspace_route(f"{_EXPERIMENT}issues/<str:issue_id>/", issue, name="issue"),
]
