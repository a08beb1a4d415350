"""The filters of QueryTraceMetrics, MLflow 3.17.2's own small grammar (not `search_traces`'):
each filter is one comparison `<view>.<entity>[.<key>] = '<value>'`, and a request's filters all
hold (AND).

- `trace.status`, `trace.tag.<key>`, `trace.metadata.<key>` (`mlflow.sourceRun` also matches the
  traces linked to the run afterwards) on every view;
- `span.name`, `span.status`, `span.type` on the SPANS view only;
- `assessment.name`, `assessment.type` on the ASSESSMENTS view only.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet

from tracking.errors import InvalidParameterValue
from tracking.models import TraceMetadata, TraceRunLink, TraceTag

from .tokens import is_quoted, path_parts, tokenize, unquote

SOURCE_RUN_METADATA = "mlflow.sourceRun"
# view -> entity -> whether the entity takes a key, in MLflow's order (its messages list them).
ENTITIES = {
    "trace": {"status": False, "tag": True, "metadata": True},
    "span": {"name": False, "status": False, "type": False},
    "assessment": {"name": False, "type": False},
}
# The metric view each filter view is restricted to (trace filters go with every view).
_ONLY_IN_VIEW = {"span": "SPANS", "assessment": "ASSESSMENTS"}
_SPAN_COLUMNS = {"name": "name", "status": "status", "type": "span_type"}
_ASSESSMENT_COLUMNS = {"name": "name", "type": "assessment_type"}


@dataclass(frozen=True)
class MetricsFilter:
    view: str  # "trace" | "span" | "assessment"
    entity: str
    key: str | None
    value: str


def _trim_backticks(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "`" else text


def parse_metrics_filter(filter_string: str) -> MetricsFilter:
    tokens = tokenize(filter_string, "filter")
    if len(tokens) != 3 or tokens[0].kind != "path" or tokens[1].kind != "op":
        raise InvalidParameterValue(f"Invalid filter: '{filter_string}'. Expected one filter clause.")
    identifier, op, value = tokens
    parts = path_parts(identifier.text)
    message = (
        f"Invalid identifier {identifier.text!r}. Columns should be specified as "
        "'trace.<key>', 'span.<key>', 'assessment.<key>'."
    )
    if len(parts) < 2:
        raise InvalidParameterValue(message)
    view, entity = _trim_backticks(parts[0]), parts[1]
    key = None
    if len(parts) > 2:
        rest = parts[2:]
        key = unquote(rest[0]) if len(rest) == 1 and is_quoted(rest[0]) else ".".join(rest)
    if view not in ENTITIES:
        raise InvalidParameterValue(
            f"Invalid view type '{view}'. Valid values are dict_keys({list(ENTITIES)})"
        )
    entities = ENTITIES[view]
    if entity not in entities:
        raise InvalidParameterValue(
            f"Invalid entity '{entity}' specified for view type '{view}'. Valid entities are {list(entities)}"
        )
    if entities[entity] and not key:
        raise InvalidParameterValue(
            f"Filtering by {entity} requires a key, e.g. '{view}.{entity}.<key> = <value>'"
        )
    if not entities[entity] and key is not None:
        raise InvalidParameterValue(
            f"Filtering by {entity} does not require a key, use '{view}.{entity}' instead"
        )
    if op.text != "=":
        raise InvalidParameterValue(f"Invalid comparator: '{op.text}', only '=' operator is supported")
    if value.kind != "string":
        raise InvalidParameterValue(
            f"Expected a quoted string value for {entity} value (e.g. 'my-value'). Got value {value.text}"
        )
    return MetricsFilter(view=view, entity=entity, key=key, value=unquote(value.text))


def filter_metric_rows(rows: QuerySet, filters: list[str], view_type: str, trace_ref: str) -> QuerySet:
    """`rows` (traces, spans or assessments of `view_type`) that pass every filter; `trace_ref`
    names the rows' trace (`pk` for traces, `trace_id` for the others)."""
    trace = "" if trace_ref == "pk" else "trace__"
    for filter_string in filters:
        parsed = parse_metrics_filter(filter_string)
        only_in = _ONLY_IN_VIEW.get(parsed.view)
        if only_in is not None and only_in != view_type:
            raise InvalidParameterValue(
                f"Filtering by {parsed.view} is only supported for {only_in} view type, got {view_type}"
            )
        if parsed.view == "span":
            rows = rows.filter(**{_SPAN_COLUMNS[parsed.entity]: parsed.value})
        elif parsed.view == "assessment":
            rows = rows.filter(**{_ASSESSMENT_COLUMNS[parsed.entity]: parsed.value})
        elif parsed.entity == "status":
            rows = rows.filter(**{f"{trace}state": parsed.value})
        elif parsed.entity == "tag":
            rows = rows.filter(
                Exists(TraceTag.objects.filter(trace=OuterRef(trace_ref), key=parsed.key, value=parsed.value))
            )
        else:
            condition = Q(
                Exists(
                    TraceMetadata.objects.filter(
                        trace=OuterRef(trace_ref), key=parsed.key, value=parsed.value
                    )
                )
            )
            if parsed.key == SOURCE_RUN_METADATA:
                # A trace linked to the run afterwards (LinkTracesToRun) counts as the run's too.
                condition |= Q(
                    Exists(TraceRunLink.objects.filter(trace=OuterRef(trace_ref), run_id=parsed.value))
                )
            rows = rows.filter(condition)
    return rows
