"""Studio pages: an experiment's Traces tab (a paged, filtered table of its traces) and a trace's
page (its spans as a tree with a timing waterfall, each span's inputs, outputs, attributes and
events, the trace's tags, metadata and runs).

Everything a trace carries is the client's text, shown escaped by the templates: no value is
marked safe, and the page's script only shows and hides what the server rendered. The reads are
`tracking.queries.trace_pages`.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from studio.charts import trace_metrics_figures
from studio.lookups import experiment_or_404
from studio.pages import choice, page_number, pager_links, url_with
from studio.routing import workspace_route
from studio.span_tree import format_nanoseconds, keep_details_within, span_rows, timeline_ticks
from studio.views.runs import json_answer
from tracking.alerts.queries import experiment_alert_counts
from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import Experiment, Workspace
from tracking.queries.experiments import experiment_tags
from tracking.queries.trace_metrics import trace_metrics_overview
from tracking.queries.trace_pages import DEFAULT_SORT, SORTS, STATES, TracePage, trace_detail, trace_page

# A trace of more spans lists this many (the first by start time), and says so.
MAX_SPANS_SHOWN = 1000
# The spans' details (inputs, outputs, ...) a page carries at most; past it, a span's details are
# one click away (the page again, with that span selected).
MAX_DETAIL_CHARS = 2_000_000
_SYSTEM_TAG_PREFIX = "mlflow."
INTERVAL_LABELS = {60: "minute", 300: "5 minutes", 900: "15 minutes", 3600: "hour", 21600: "6 hours",
                   86400: "day", 604800: "week", 2592000: "30 days"}  # fmt: skip
STATE_LABELS = {"OK": "OK", "ERROR": "Error", "IN_PROGRESS": "In progress", "STATE_UNSPECIFIED": "Unknown"}


@require_GET
def traces(request: HttpRequest, workspace: Workspace, experiment_id: str) -> HttpResponse:
    exp = experiment_or_404(workspace, experiment_id)
    filter_string = request.GET.get("filter", "").strip()
    state = choice(request, "state", STATES)
    sort = choice(request, "sort", SORTS, DEFAULT_SORT)
    error = listing = None
    try:
        listing = trace_page(
            exp, filter_string=filter_string, state=state, sort=sort, page=page_number(request)
        )
    except InvalidParameterValue as exc:
        error = exc.message
    context = experiment_context(workspace, exp)
    context.update(
        tab="traces",
        # The Metrics panel asks for its charts once the table is on screen (trace_metrics).
        metrics_url=f"/ws/{workspace.name}/experiments/{exp.experiment_id}/trace-metrics",
        # Without a filter, an empty first page says there is nothing to chart.
        show_metrics=not (
            listing and not listing.rows and listing.page == 1 and not (filter_string or state)
        ),
        listing=listing,
        rows=[
            (row, format_milliseconds(row.execution_duration_ms), STATE_LABELS.get(row.state, row.state))
            for row in (listing.rows if listing else [])
        ],
        traces_url=_traces_url(workspace, exp),
        error=error,
        filter_string=filter_string,
        state=state,
        states=[(choice, STATE_LABELS[choice]) for choice in STATES],
        sort=sort,
        sort_links={
            "time": url_with(request, sort="time" if sort == "-time" else "-time", page=None),
            "duration": url_with(request, sort="duration" if sort == "-duration" else "-duration", page=None),
        },
        clear_url=url_with(request, filter=None, state=None, page=None),
        **_pager(request, listing),
    )
    return render(request, "studio/traces/list.html", context)


@require_GET
def trace_metrics(request: HttpRequest, workspace: Workspace, experiment_id: str) -> HttpResponse:
    """The Traces tab's Metrics panel (JSON): the experiment's traces over time, the table's filter
    aside. Its own request, so that the table does not wait for aggregates over every trace."""
    exp = experiment_or_404(workspace, experiment_id)
    overview = trace_metrics_overview(exp)
    return json_answer(
        {
            "interval": INTERVAL_LABELS.get(overview.interval_seconds) if overview else None,
            "figures": trace_metrics_figures(overview) if overview else [],
        }
    )


@require_GET
def trace(request: HttpRequest, workspace: Workspace, experiment_id: str, trace_id: str) -> HttpResponse:
    exp = experiment_or_404(workspace, experiment_id)
    try:
        detail = trace_detail(exp, trace_id, max_spans=MAX_SPANS_SHOWN)
    except ResourceDoesNotExist:
        raise Http404(f"No trace {trace_id!r}") from None
    rows = span_rows(detail.spans)
    chosen = request.GET.get("span", "")
    selected = next((row for row in rows if row.span_id == chosen), rows[0] if rows else None)
    keep_details_within(rows, MAX_DETAIL_CHARS, selected=selected)
    return render(
        request,
        "studio/traces/detail.html",
        {
            "workspace": workspace,
            "area": "experiments",
            "experiment": exp,
            "detail": detail,
            "trace": detail.trace,
            "spans": rows,
            "selected": selected,
            "ticks": timeline_ticks(detail.spans),
            "hidden_spans": detail.span_count - len(detail.spans),
            "tags": _split(detail.tags),
            "metadata": _split(detail.metadata),
            "traces_url": _traces_url(workspace, exp),
            "duration": format_milliseconds(detail.trace.execution_duration_ms),
            "state_label": STATE_LABELS.get(detail.trace.state, detail.trace.state),
        },
    )


urlpatterns = [
    workspace_route(
        "ws/<slug:workspace>/experiments/<str:experiment_id>/traces/", traces, name="experiment-traces"
    ),
    workspace_route(
        "ws/<slug:workspace>/experiments/<str:experiment_id>/traces/<str:trace_id>/", trace, name="trace"
    ),
    workspace_route(
        "ws/<slug:workspace>/experiments/<str:experiment_id>/trace-metrics",
        trace_metrics,
        name="experiment-trace-metrics",
    ),
]


def _split(pairs: list[tuple[str, str]]) -> dict:
    """The user's keys, and those MLflow records itself (`mlflow.`), each list in key order."""
    return {
        "count": len(pairs),
        "user": [(key, value) for key, value in pairs if not key.startswith(_SYSTEM_TAG_PREFIX)],
        "system": [(key, value) for key, value in pairs if key.startswith(_SYSTEM_TAG_PREFIX)],
    }


def _traces_url(workspace: Workspace, exp: Experiment) -> str:
    return f"/ws/{workspace.name}/experiments/{exp.experiment_id}/traces/"


def format_milliseconds(milliseconds: int | None) -> str:
    """A trace's execution time (MLflow keeps whole milliseconds: 0 is any time under one)."""
    if milliseconds is None:
        return "—"
    return "< 1 ms" if milliseconds == 0 else format_nanoseconds(milliseconds * 1_000_000)


def experiment_context(workspace: Workspace, exp: Experiment) -> dict:
    """What the experiment's header shows above each of its tabs (Traces, Datasets, Scorers,
    Issues: studio.views.genai)."""
    tags = experiment_tags([exp]).get(exp.pk, [])
    return {
        "workspace": workspace,
        "area": "experiments",
        "experiment": exp,
        "tags": [(key, value) for key, value in tags if not key.startswith(_SYSTEM_TAG_PREFIX)],
        "alert_counts": experiment_alert_counts(exp),
    }


def _pager(request: HttpRequest, listing: TracePage | None) -> dict:
    if listing is None:
        return {"previous_url": None, "next_url": None}
    return pager_links(request, listing.page, listing.has_next)
