"""What the studio's trace pages read: a page of an experiment's traces, and one trace with its
spans, tags, metadata and linked runs.

A page of the table costs the same queries however many traces the experiment has:

1. the number of traces that match, counted no further than `COUNT_LIMIT` (the pager says
   "10,000+" past it: an exact count of a filtered 100,000 would cost more than the page);
2. the page of traces, filtered and sorted by the database;
3. the page's names (the tag `mlflow.traceName`) and user tags, 4. the runs its traces came from
   (the metadata `mlflow.sourceRun`) or were linked to, and 5. those runs' names.

The filter is MLflow's `search_traces` grammar, through the same search as `SearchTracesV3`
(`tracking.search.traces`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import F, OuterRef, Q, QuerySet, Subquery

from tracking.errors import ResourceDoesNotExist
from tracking.models import Assessment, Experiment, Run, Span, Trace, TraceMetadata, TraceRunLink, TraceTag
from tracking.models.traces import TRACE_STATES
from tracking.search.traces import filter_traces, parse_trace_filter

PAGE_SIZE = 50
COUNT_LIMIT = 10_000
TRACE_NAME_TAG = "mlflow.traceName"
SOURCE_RUN_METADATA = "mlflow.sourceRun"
# Tags MLflow sets itself are not chips in the table (the trace page lists them all).
SYSTEM_PREFIX = "mlflow."
# The table's sorts: the URL's name -> the order of the rows. Newest first is the index
# `trace_experiment_newest` read forwards (and oldest first, backwards): a page is read off the
# index without sorting the experiment's traces. (MLflow's `timestamp_ms DESC` says NULLS LAST,
# which PostgreSQL cannot read off that index: on 100,000 traces, 0.05 ms against 100.)
SORTS = {
    "-time": [F("request_time").desc(), F("trace_id").asc()],
    "time": [F("request_time").asc(), F("trace_id").desc()],
    "-duration": [
        F("execution_duration_ms").desc(nulls_last=True),
        F("request_time").desc(),
        F("trace_id").asc(),
    ],
    "duration": [
        F("execution_duration_ms").asc(nulls_last=True),
        F("request_time").desc(),
        F("trace_id").asc(),
    ],
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
    run_id: str | None = None
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
    # The page first, then what it shows beyond the trace's own columns: subqueries in the page's
    # query would be computed for every trace the database sorts, not for the 50 it keeps.
    on_page = traces.order_by(*SORTS.get(sort, SORTS[DEFAULT_SORT])).values_list(
        "pk",
        "trace_id",
        "state",
        "request_time",
        "execution_duration_ms",
        "request_preview",
        "response_preview",
    )[offset : offset + PAGE_SIZE]
    rows = {
        pk: TraceRow(
            trace_id=trace_id,
            name="",
            state=state_value,
            request_time=request_time,
            execution_duration_ms=duration,
            request_preview=request_preview or "",
            response_preview=response_preview or "",
        )
        for pk, trace_id, state_value, request_time, duration, request_preview, response_preview in on_page
    }
    if rows:
        _add_tags_and_runs(experiment, rows)
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


def _add_tags_and_runs(experiment: Experiment, rows: dict[int, TraceRow]) -> None:
    """The rows' names and user tags (one query), the runs they came from or were linked to (one
    query), and those runs' names (one query)."""
    for trace_pk, key, value in (
        TraceTag.objects.filter(trace_id__in=list(rows))
        .filter(Q(key=TRACE_NAME_TAG) | ~Q(key__startswith=SYSTEM_PREFIX))
        .order_by("key")
        .values_list("trace_id", "key", "value")
    ):
        if key == TRACE_NAME_TAG:
            rows[trace_pk].name = value
        else:
            rows[trace_pk].tags.append((key, value))
    runs = Trace.objects.filter(pk__in=list(rows)).values_list(
        "pk",
        Subquery(
            TraceMetadata.objects.filter(trace=OuterRef("pk"), key=SOURCE_RUN_METADATA).values("value")[:1]
        ),
        Subquery(TraceRunLink.objects.filter(trace=OuterRef("pk")).order_by("pk").values("run_id")[:1]),
    )
    for trace_pk, source_run, linked_run in runs:
        rows[trace_pk].run_id = source_run or linked_run
    _name_runs(experiment, list(rows.values()))


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
class AssessmentLine:
    """An assessment as a trace's page lists it: every field text, to be escaped as any text."""

    name: str
    kind: str  # "feedback" | "expectation" | "issue"
    value: str  # a string as it is, any other value as its JSON
    error: str  # "CODE: message", or ""
    source: str  # "HUMAN · ana@example.com"
    rationale: str
    valid: bool
    overrides: str
    span_id: str
    span_name: str  # the span's name when the page has it


def _assessment_lines(trace: Trace, spans: list[Span]) -> list[AssessmentLine]:
    names = {span.span_id: span.name for span in spans}
    lines = []
    for assessment in Assessment.objects.filter(trace=trace).order_by("created_at", "pk"):
        value = json.loads(assessment.value)
        error = json.loads(assessment.error) if assessment.error else {}
        lines.append(
            AssessmentLine(
                name=assessment.name,
                kind=assessment.assessment_type,
                value=value if isinstance(value, str) else json.dumps(value, ensure_ascii=False),
                error=": ".join(
                    part for part in (error.get("error_code"), error.get("error_message")) if part
                ),
                source=" · ".join(part for part in (assessment.source_type, assessment.source_id) if part),
                rationale=assessment.rationale or "",
                valid=assessment.valid,
                overrides=assessment.overrides or "",
                span_id=assessment.span_id or "",
                span_name=names.get(assessment.span_id or "", ""),
            )
        )
    return lines


@dataclass(slots=True)
class TraceDetail:
    trace: Trace
    name: str
    spans: list[Span]
    tags: list[tuple[str, str]]
    metadata: list[tuple[str, str]]
    runs: list[tuple[str, str | None]]  # (run id, its name; None when not a run of the workspace)
    span_count: int  # all the trace's spans, `spans` being the first `max_spans` of them
    assessments: list[AssessmentLine]


def trace_detail(experiment: Experiment, trace_id: str, *, max_spans: int = 1000) -> TraceDetail:
    """One trace of the experiment with its tags, metadata, runs and first `max_spans` spans by
    start time; ResourceDoesNotExist when the experiment has no such trace."""
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
    spans = list(Span.objects.filter(trace=trace).order_by("start_time_ns", "pk")[: max_spans + 1])
    return TraceDetail(
        trace=trace,
        name=dict(tags).get(TRACE_NAME_TAG, ""),
        spans=spans[:max_spans],
        span_count=len(spans) if len(spans) <= max_spans else Span.objects.filter(trace=trace).count(),
        tags=tags,
        metadata=metadata,
        runs=[(run_id, (names[run_id] or run_id) if run_id in names else None) for run_id in run_ids],
        assessments=_assessment_lines(trace, spans),
    )
