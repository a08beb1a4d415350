"""A trace's spans as the trace page shows them: a tree in depth-first order, each span with its
place on the trace's timeline (the waterfall) and its inputs, outputs, attributes and events as
pretty-printed JSON text.

Spans come as `tracking.models.Span` rows: the tree and the timing from their columns, the rest
from `content`, the span as MLflow writes it (`Span.to_dict()`: OpenTelemetry's fields, each
attribute value a JSON document in a string). Everything here is text for the template to
escape; nothing is marked safe. A span whose parent is not in the trace (not logged yet, or lost) is listed at the
top level, and a cycle of parent ids ends where it would repeat a span.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tracking.models import Span

INPUTS = "mlflow.spanInputs"
OUTPUTS = "mlflow.spanOutputs"
SPAN_TYPE = "mlflow.spanType"
# Attributes MLflow uses for its own bookkeeping, not worth a reader's eye.
_HIDDEN_ATTRIBUTES = {INPUTS, OUTPUTS, SPAN_TYPE, "mlflow.traceRequestId", "mlflow.spanStartTimeNs"}
# What a page shows of one value; the rest is cut with a note (a trace can carry whole documents).
MAX_SHOWN_CHARS = 20_000
# Spans deeper than this are drawn at this depth (a tree that deep is one nobody reads by indent).
MAX_INDENT = 12
STATUS_NAMES = {"STATUS_CODE_OK": "OK", "STATUS_CODE_ERROR": "ERROR", "STATUS_CODE_UNSET": "UNSET"}


@dataclass(frozen=True, slots=True)
class SpanEvent:
    name: str
    at: str  # offset from the trace's start, as people read it
    attributes: list[tuple[str, str]]  # each value as text (a stack trace keeps its lines)


@dataclass(slots=True)
class SpanRow:
    span_id: str
    name: str
    span_type: str
    status: str  # OK | ERROR | UNSET
    status_message: str
    start: str  # offset from the trace's start
    duration: str
    offset_pct: float  # the timing bar's left edge, in % of the trace
    width_pct: float
    depth: int = 0
    ancestors: list[str] = field(default_factory=list)
    child_count: int = 0
    inputs: str | None = None
    outputs: str | None = None
    attributes: list[tuple[str, str]] = field(default_factory=list)
    events: list[SpanEvent] = field(default_factory=list)
    details_shown: bool = True  # False: the page leaves them out (keep_details_within)

    @property
    def indent(self) -> int:
        return min(self.depth, MAX_INDENT)

    @property
    def label_place(self) -> str:
        """Where the bar's duration goes: after the bar, else before it (a bar ending near the
        trace's end leaves no room after it), else inside it (a bar as long as the trace)."""
        if self.end_pct <= 80:
            return "after"
        return "before" if self.offset_pct >= 15 else "inside"

    @property
    def end_pct(self) -> float:
        return round(self.offset_pct + self.width_pct, 3)

    @property
    def label_right_pct(self) -> float:
        """Where a label before or inside the bar ends, from the timeline's right end."""
        edge = self.offset_pct if self.label_place == "before" else self.end_pct
        return round(100 - edge, 3)


def span_rows(spans: list[Span]) -> list[SpanRow]:
    """The spans in tree order (each parent before its children, siblings by start time)."""
    if not spans:
        return []
    ids = {span.span_id for span in spans}
    origin = min(span.start_time_ns for span in spans)
    total = max(max(_end(span) for span in spans) - origin, 1)

    children: dict[str, list[Span]] = defaultdict(list)
    roots = []
    for span in sorted(spans, key=lambda span: (span.start_time_ns, span.name)):
        parent = span.parent_span_id
        if parent and parent in ids and parent != span.span_id:
            children[parent].append(span)
        else:
            roots.append(span)

    rows: list[SpanRow] = []
    seen: set[str] = set()
    # Spans in a cycle of parent ids are reached from no root: each then starts a tree of its own.
    for root in [*roots, *spans]:
        stack = [(root, [])]
        while stack:
            span, ancestors = stack.pop()
            if span.span_id in seen:
                continue
            seen.add(span.span_id)
            row = _row(span, origin, total)
            row.depth = len(ancestors)
            row.ancestors = ancestors
            kids = [kid for kid in children.get(span.span_id, []) if kid.span_id not in seen]
            row.child_count = len(kids)
            rows.append(row)
            stack.extend((kid, [*ancestors, span.span_id]) for kid in reversed(kids))
    return rows


def keep_details_within(rows: list[SpanRow], budget: int, *, selected: SpanRow | None) -> None:
    """Leaves out the details of the spans past `budget` characters of them in tree order, the
    selected span's always kept: a trace of many large spans stays a page a browser opens."""
    spent = _detail_size(selected) if selected else 0
    for row in rows:
        if row is selected:
            continue
        spent += _detail_size(row)
        row.details_shown = spent <= budget


def _detail_size(row: SpanRow) -> int:
    values = [row.inputs or "", row.outputs or "", *(value for _, value in row.attributes)]
    values += [value for event in row.events for _, value in event.attributes]
    return sum(map(len, values))


def _end(span: Span) -> int:
    return span.end_time_ns if span.end_time_ns is not None else span.start_time_ns


def _row(span: Span, origin: int, total: int) -> SpanRow:
    content = _decoded(span.content)
    content = content if isinstance(content, dict) else {}
    attributes = content.get("attributes") if isinstance(content.get("attributes"), dict) else {}
    status = content.get("status") if isinstance(content.get("status"), dict) else {}
    start, end = span.start_time_ns, _end(span)
    return SpanRow(
        span_id=span.span_id,
        # The column keeps the first 500 characters; the content has the whole name.
        name=_text(content.get("name")) or span.name or "(unnamed)",
        span_type=span.span_type or "UNKNOWN",
        status=STATUS_NAMES.get(span.status, span.status.removeprefix("STATUS_CODE_") or "UNSET"),
        status_message=_text(status.get("message")),
        start=format_nanoseconds(start - origin),
        duration=format_nanoseconds(max(end - start, 0)),
        offset_pct=round(100 * (start - origin) / total, 3),
        width_pct=round(max(100 * (end - start) / total, 0.0), 3),
        inputs=pretty_json(attributes[INPUTS]) if INPUTS in attributes else None,
        outputs=pretty_json(attributes[OUTPUTS]) if OUTPUTS in attributes else None,
        attributes=[
            (_text(key), pretty_json(value))
            for key, value in sorted(attributes.items())
            if key not in _HIDDEN_ATTRIBUTES
        ],
        events=[_event(event, origin) for event in content.get("events") or [] if isinstance(event, dict)],
    )


def _event(event: dict, origin: int) -> SpanEvent:
    attributes = event.get("attributes")
    return SpanEvent(
        name=_text(event.get("name")),
        at=format_nanoseconds(_int(event.get("time_unix_nano")) - origin),
        attributes=[(_text(key), pretty_json(value)) for key, value in sorted(attributes.items())]
        if isinstance(attributes, dict)
        else [],
    )


def pretty_json(value: Any) -> str:
    """An attribute's value as indented JSON: MLflow stores each one as a JSON string."""
    return _pretty(_decoded(value))


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    if len(text) > MAX_SHOWN_CHARS:
        cut = len(text) - MAX_SHOWN_CHARS
        text = f"{text[:MAX_SHOWN_CHARS]}\n… ({cut:,} more characters not shown)"
    return text


def _decoded(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def format_nanoseconds(nanoseconds: int) -> str:
    """A span's offset or length as people read it: 12 µs, 340 ms, 1.25 s, 2m 05s."""
    if nanoseconds == 0:
        return "0"
    if nanoseconds < 1_000_000:
        return f"{nanoseconds / 1000:.0f} µs" if nanoseconds >= 1000 else f"{nanoseconds} ns"
    milliseconds = nanoseconds / 1_000_000
    if milliseconds < 1000:
        return f"{milliseconds:.1f} ms" if milliseconds < 10 else f"{milliseconds:.0f} ms"
    seconds = milliseconds / 1000
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m {seconds:02}s"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def timeline_ticks(spans: list[Span], parts: int = 4) -> list[tuple[int, str]]:
    """The waterfall's scale: (% of the trace, offset from its start) at each of `parts` + 1 marks."""
    if not spans:
        return []
    origin = min(span.start_time_ns for span in spans)
    total = max(_end(span) for span in spans) - origin
    return [(100 * part // parts, format_nanoseconds(total * part // parts)) for part in range(parts + 1)]
