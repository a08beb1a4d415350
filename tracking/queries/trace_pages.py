"""What the studio's trace pages read: a page of an experiment's traces, and one trace with its
spans, tags, metadata and linked runs.

A page of the table costs the same queries however many traces the experiment has:

1. the number of traces that match, counted no further than `COUNT_LIMIT` (the pager says
   "10,000+" past it: an exact count of a filtered 100,000 would cost more than the page);
2. the page of traces, filtered and sorted by the database, each with its name (the tag
   `mlflow.traceName`) and the run it came from (the metadata `mlflow.sourceRun`) as subqueries;
3. the tags of the page's traces, and 4. the names of their runs.

The filter and the sorts are MLflow's `search_traces` grammar, through the same search as
`SearchTracesV3` (`tracking.search.traces`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import OuterRef, QuerySet, Subquery

from tracking.errors import ResourceDoesNotExist
from tracking.models import Experiment, Run, Span, Trace, TraceMetadata, TraceRunLink, TraceTag
from tracking.models.traces import TRACE_STATES
from tracking.search.traces import filter_traces, order_traces, parse_trace_filter

PAGE_SIZE = 50
COUNT_LIMIT = 10_000
TRACE_NAME_TAG = "mlflow.traceName"
SOURCE_RUN_METADATA = "mlflow.sourceRun"
# Tags MLflow sets itself are not chips in the table (the trace page lists them all).
SYSTEM_PREFIX = "mlflow."
# The table's sorts: the URL's name -> MLflow's order_by (the ties: newest first, then by id).
SORTS = {
    "-time": ["timestamp_ms DESC"],
    "time": ["timestamp_ms ASC"],
    "-duration": ["execution_time_ms DESC"],
    "duration": ["execution_time_ms ASC"],
}
DEFAULT_SORT = "-time"
STATES = [state for state in TRACE_STATES if state != "STATE_UNSPECIFIED"]


@dataclass(slots=True)
class TraceRow:
    trace_id: str
    name: str
    state: str
    request_time: datetime
    execution_duration_ms: int | None
    request_preview: str
    response_preview: str
    run_id: str | None
    run_name: str | None = None  # None: no such run in the workspace (not linked then)
    tags: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class TracePage:
    rows: list[TraceRow]
    page: int
    total: int  # at most COUNT_LIMIT
    more: bool  # more traces match than `total` says

    @property
    def first(self) -> int:
        return (self.page - 1) * PAGE_SIZE + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return (self.page - 1) * PAGE_SIZE + len(self.rows)

    @property
    def counted(self) -> str:
        """How many traces match, as the pager says it: "10,000+" past the count's limit."""
        return f"{max(self.total, self.last):,}+" if self.more else f"{self.total:,}"

    @property
    def has_next(self) -> bool:
        return self.last < self.total or (self.more and len(self.rows) == PAGE_SIZE)


def trace_page(
    experiment: Experiment,
    *,
    filter_string: str = "",
    state: str = "",
    sort: str = DEFAULT_SORT,
    page: int = 1,
) -> TracePage:
    """A page of the experiment's traces; InvalidParameterValue for a filter MLflow would refuse."""
    traces = _matching(experiment, filter_string, state)
    counted = traces.order_by().values("pk")[: COUNT_LIMIT + 1].count()
    offset = (page - 1) * PAGE_SIZE
    named = traces.annotate(
        name=Subquery(TraceTag.objects.filter(trace=OuterRef("pk"), key=TRACE_NAME_TAG).values("value")[:1]),
        source_run=Subquery(
            TraceMetadata.objects.filter(trace=OuterRef("pk"), key=SOURCE_RUN_METADATA).values("value")[:1]
        ),
        linked_run=Subquery(
            TraceRunLink.objects.filter(trace=OuterRef("pk")).order_by("pk").values("run_id")[:1]
        ),
    )
    named = order_traces(named, SORTS.get(sort, SORTS[DEFAULT_SORT]))
    traces_on_page = list(
        named.values_list(
            "pk",
            "trace_id",
            "name",
            "state",
            "request_time",
            "execution_duration_ms",
            "request_preview",
            "response_preview",
            "source_run",
            "linked_run",
        )[offset : offset + PAGE_SIZE]
    )
    rows = {
        pk: TraceRow(
            trace_id=trace_id,
            name=name or "",
            state=state_value,
            request_time=request_time,
            execution_duration_ms=duration,
            request_preview=request_preview or "",
            response_preview=response_preview or "",
            run_id=source_run or linked_run,
        )
        for (
            pk,
            trace_id,
            name,
            state_value,
            request_time,
            duration,
            request_preview,
            response_preview,
            source_run,
            linked_run,
        ) in traces_on_page
    }
    if rows:
        for trace_pk, key, value in (
            TraceTag.objects.filter(trace_id__in=rows)
            .exclude(key__startswith=SYSTEM_PREFIX)
            .order_by("key")
            .values_list("trace_id", "key", "value")
        ):
            rows[trace_pk].tags.append((key, value))
        _name_runs(experiment, list(rows.values()))
    return TracePage(
        rows=list(rows.values()),
        page=page,
        total=min(counted, COUNT_LIMIT),
        more=counted > COUNT_LIMIT,
    )


def _matching(experiment: Experiment, filter_string: str, state: str) -> QuerySet:
    traces = Trace.objects.filter(experiment=experiment)
    if state in STATES:
        traces = traces.filter(state=state)
    if filter_string:
        traces = filter_traces(traces, parse_trace_filter(filter_string))
    return traces


def _name_runs(experiment: Experiment, rows: list[TraceRow]) -> None:
    """Each row's run name, when its run is one of the workspace's (an id from elsewhere stays unlinked)."""
    run_ids = {row.run_id for row in rows if row.run_id}
    if not run_ids:
        return
    names = dict(
        Run.objects.filter(experiment__workspace_id=experiment.workspace_id, uuid__in=run_ids).values_list(
            "uuid", "name"
        )
    )
    for row in rows:
        if row.run_id in names:
            row.run_name = names[row.run_id] or row.run_id


@dataclass(slots=True)
class TraceDetail:
    trace: Trace
    name: str
    spans: list[Span]
    tags: list[tuple[str, str]]
    metadata: list[tuple[str, str]]
    runs: list[tuple[str, str | None]]  # (run id, its name; None when not a run of the workspace)


def trace_detail(experiment: Experiment, trace_id: str) -> TraceDetail:
    """One trace of the experiment with its spans (start order), tags, metadata and runs;
    ResourceDoesNotExist when the experiment has no such trace."""
    trace = Trace.objects.filter(experiment=experiment, trace_id=trace_id).first()
    if trace is None:
        raise ResourceDoesNotExist(f"Trace with ID {trace_id!r} not found.")
    tags = list(TraceTag.objects.filter(trace=trace).order_by("key").values_list("key", "value"))
    metadata = list(TraceMetadata.objects.filter(trace=trace).order_by("key").values_list("key", "value"))
    run_ids = [value for key, value in metadata if key == SOURCE_RUN_METADATA]
    run_ids += [
        run_id
        for run_id in TraceRunLink.objects.filter(trace=trace).order_by("pk").values_list("run_id", flat=True)
        if run_id not in run_ids
    ]
    names = (
        dict(
            Run.objects.filter(
                experiment__workspace_id=experiment.workspace_id, uuid__in=run_ids
            ).values_list("uuid", "name")
        )
        if run_ids
        else {}
    )
    return TraceDetail(
        trace=trace,
        name=dict(tags).get(TRACE_NAME_TAG, ""),
        spans=list(Span.objects.filter(trace=trace).order_by("start_time_ns", "pk")),
        tags=tags,
        metadata=metadata,
        runs=[(run_id, (names[run_id] or run_id) if run_id in names else None) for run_id in run_ids],
    )
