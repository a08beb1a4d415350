"""Trace search: MLflow's `search_traces` filter and order_by, as conditions on a Trace queryset.

    trace.status = 'OK' AND trace.timestamp_ms > 1700000000000 AND tags.topic = 'billing'
    metadata.`mlflow.user` = 'ana' AND span.type = 'LLM' AND trace.text ILIKE '%refund%'

Comparisons are joined by AND, as in MLflow. Identifiers:
- `trace.` / `attribute(s).`: status, request_id, client_request_id, timestamp(_ms),
  execution_time(_ms), end_time(_ms), and the shorthands name (the tag `mlflow.traceName`), run_id (the metadata
  `mlflow.sourceRun`; with `=` also a run linked to the trace), prompt = 'name/version' (a prompt
  version LinkPromptsToTrace linked, or that the tag `mlflow.linkedPrompts` lists) and text (the
  spans' JSON);
- `tag(s).`, `metadata.` / `request_metadata.`;
- `span.`: name, type, status, content, attributes.<key>;
- `feedback.<name>`, `expectation.<name>`: a valid (not overridden) assessment of that name whose
  value compares (`=`/`!=`/patterns with a quoted string against its JSON, `<` `<=` `>` `>=` with
  a number against a numeric value), or IS (NOT) NULL; an assessment of a session's trace that says
  it is about the session (metadata `mlflow.trace.session`) counts for every trace of the session;
- `issue.id = 'iss-…'`: traces an issue reference (an assessment named by the issue's id) links to the issue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery

from tracking.errors import InvalidParameterValue
from tracking.models import Assessment, Span, TraceMetadata, TracePromptLink, TraceRunLink, TraceTag
from tracking.search.condition_sql import LOOKUPS
from tracking.search.tokens import Token, is_quoted, number_value, path_parts, tokenize, unquote
from tracking.times import ms_to_datetime

MAX_FILTER_LENGTH = 20_000
MAX_COMPARISONS = 40

_ENTITIES = {
    "attribute": "attribute",
    "attributes": "attribute",
    "trace": "attribute",
    "tag": "tag",
    "tags": "tag",
    "metadata": "metadata",
    "request_metadata": "metadata",
    "span": "span",
}
# Issues are not kept here: no trace has one, as on a server where none was logged.
_ASSESSMENT_ENTITIES = {"feedback": "feedback", "expectation": "expectation", "issue": "issue"}
_ALIASES = {"timestamp": "timestamp_ms", "execution_time": "execution_time_ms", "end_time": "end_time_ms"}
_NUMERIC = {"timestamp_ms", "execution_time_ms", "end_time_ms"}
_STRING = {"status", "request_id", "client_request_id", "run_id"}
_AS_TAG = {"name": "mlflow.traceName"}
_SEARCHABLE = sorted(_NUMERIC | _STRING | set(_ALIASES) | set(_AS_TAG) | {"text", "prompt"})
LINKED_PROMPTS_TAG = "mlflow.linkedPrompts"

STRING_OPS = {"=", "!=", "LIKE", "ILIKE", "RLIKE"}
LIST_OPS = {"IN", "NOT IN"}
NULL_OPS = {"IS NULL", "IS NOT NULL"}
NUMERIC_OPS = {"=", "!=", "<", "<=", ">", ">="}
_SPAN_FIELDS = {"name": "name", "type": "span_type", "status": "status"}
SOURCE_RUN_METADATA = "mlflow.sourceRun"

_LOOKUP = {**LOOKUPS, "RLIKE": "regex"}
_NUMERIC_ASSESSMENT_OPS = {"<", "<=", ">", ">="}
SESSION_METADATA = "mlflow.trace.session"


@dataclass(frozen=True)
class TraceComparison:
    entity: str  # "attribute" | "tag" | "metadata" | "span" | "run" | "text" | "prompt" | an assessment
    key: str
    op: str
    value: str | int | float | tuple[str, ...] | None


def parse_trace_filter(filter_string: str | None) -> list[TraceComparison]:
    """The comparisons a filter requires, all of them; INVALID_PARAMETER_VALUE for anything else."""
    if not filter_string:
        return []
    if len(filter_string) > MAX_FILTER_LENGTH:
        raise InvalidParameterValue(f"The filter has more than {MAX_FILTER_LENGTH} characters.")
    tokens = tokenize(filter_string, "filter")
    comparisons: list[TraceComparison] = []
    pos = 0
    while True:
        comparison, pos = _comparison(tokens, pos, filter_string)
        comparisons.append(comparison)
        if len(comparisons) > MAX_COMPARISONS:
            raise InvalidParameterValue(f"A filter may have at most {MAX_COMPARISONS} comparisons.")
        if pos >= len(tokens):
            return comparisons
        if tokens[pos].word != "AND":
            raise InvalidParameterValue(
                f"Invalid filter '{filter_string}': expected AND at position {tokens[pos].pos}, "
                f"found '{tokens[pos].text}'."
            )
        pos += 1


def _comparison(tokens: list[Token], pos: int, source: str) -> tuple[TraceComparison, int]:
    if pos >= len(tokens) or tokens[pos].kind != "path":
        raise InvalidParameterValue(f"Invalid filter '{source}': expected an identifier.")
    entity, key = _identifier(tokens[pos])
    op, pos = _operator(tokens, pos + 1, source)
    entity, key = _mapped(entity, key)
    _check_op(entity, key, op)
    if op in NULL_OPS:
        return TraceComparison(entity, key, op, None), pos
    if op in LIST_OPS:
        values, pos = _value_list(tokens, pos, source)
        return TraceComparison(entity, key, op, values), pos
    if pos >= len(tokens):
        raise InvalidParameterValue(f"Invalid filter '{source}': a value is missing.")
    token = tokens[pos]
    if entity in ("feedback", "expectation"):
        return TraceComparison(entity, key, op, _assessment_value(entity, op, token)), pos + 1
    if entity == "issue" and token.kind == "number":
        return TraceComparison(entity, key, op, number_value(token.text)), pos + 1
    if entity == "attribute" and key in _NUMERIC:
        if token.kind != "number":
            raise InvalidParameterValue(f"Invalid value {token.text} for numeric attribute '{key}'.")
        return TraceComparison(entity, key, op, number_value(token.text)), pos + 1
    if token.kind != "string" or (not token.text.startswith("'") and not token.text.startswith('"')):
        raise InvalidParameterValue(
            f"Expected a quoted string value for {entity} (e.g. 'my-value'). Got value {token.text}"
        )
    text = unquote(token.text)
    if entity == "prompt" and text.count("/") != 1:
        raise InvalidParameterValue(
            f"Invalid prompts filter value '{text}'. Expected format: prompt = \"name/version\""
        )
    if entity == "metadata" and key == SOURCE_RUN_METADATA and op == "=":
        # The run's own traces and those linked to it (LinkTracesToRun), as MLflow's server finds.
        return TraceComparison("run", key, op, text), pos + 1
    return TraceComparison(entity, key, op, text), pos + 1


def _assessment_value(entity: str, op: str, token: Token) -> str | float:
    """A number for the numeric comparators, a quoted string for the others (as MLflow)."""
    numeric = op in _NUMERIC_ASSESSMENT_OPS
    quoted = token.kind == "string" and token.text[:1] in ("'", '"')
    if numeric and token.kind == "number":
        return float(number_value(token.text))
    if not numeric and quoted:
        return unquote(token.text)
    if numeric:
        raise InvalidParameterValue(
            f"Expected a numeric value for {entity} when using comparator '{op}'. Got value {token.text}"
        )
    raise InvalidParameterValue(
        f"Expected a quoted string value for {entity} (e.g. 'my-value'). Got value {token.text}"
    )


def _identifier(token: Token) -> tuple[str, str]:
    parts = [unquote(part) if is_quoted(part) else part for part in path_parts(token.text)]
    if len(parts) == 1:
        return "attribute", parts[0]
    prefix = parts[0]
    entity = _ENTITIES.get(prefix) or _ASSESSMENT_ENTITIES.get(prefix)
    if entity is None:
        raise InvalidParameterValue(
            f"Invalid entity type '{prefix}'. Valid values are {sorted({*_ENTITIES, *_ASSESSMENT_ENTITIES})}"
        )
    key = ".".join(parts[1:])
    if not key:
        raise InvalidParameterValue(f"Invalid identifier '{token.text}'.")
    return entity, key


def _mapped(entity: str, key: str) -> tuple[str, str]:
    if entity == "tag" and key == LINKED_PROMPTS_TAG:
        return "prompt", key
    if entity != "attribute":
        return entity, key
    key = _ALIASES.get(key, key)
    if key in _AS_TAG:
        return "tag", _AS_TAG[key]
    if key == "run_id":
        return "metadata", SOURCE_RUN_METADATA
    if key == "prompt":
        return "prompt", LINKED_PROMPTS_TAG
    if key == "text":
        return "text", key
    if key not in _NUMERIC | _STRING:
        raise InvalidParameterValue(f"Invalid attribute key '{key}' specified. Valid keys are {_SEARCHABLE}")
    return entity, key


def _operator(tokens: list[Token], pos: int, source: str) -> tuple[str, int]:
    if pos >= len(tokens):
        raise InvalidParameterValue(f"Invalid filter '{source}': a comparator is missing.")
    token = tokens[pos]
    if token.kind == "op" and token.text in NUMERIC_OPS:
        return token.text, pos + 1
    words = [t.word for t in tokens[pos : pos + 3]]
    if words[:1] in (["LIKE"], ["ILIKE"], ["RLIKE"], ["IN"]):
        return words[0], pos + 1  # type: ignore[return-value]
    if words[:2] == ["NOT", "IN"]:
        return "NOT IN", pos + 2
    if words[:2] == ["IS", "NULL"]:
        return "IS NULL", pos + 2
    if words[:3] == ["IS", "NOT", "NULL"]:
        return "IS NOT NULL", pos + 3
    raise InvalidParameterValue(f"Invalid comparator '{token.text}' in filter '{source}'.")


def _check_op(entity: str, key: str, op: str) -> None:
    if entity == "attribute":
        allowed = NUMERIC_OPS if key in _NUMERIC else STRING_OPS | LIST_OPS
    elif entity in ("tag", "metadata"):
        allowed = STRING_OPS | NULL_OPS
    elif entity == "prompt":
        allowed = {"="}
    elif entity == "text":
        allowed = {"LIKE", "ILIKE"}
    elif entity in _ASSESSMENT_ENTITIES:
        allowed = NUMERIC_OPS | STRING_OPS | NULL_OPS if entity != "issue" else {"="}
        if op in LIST_OPS and entity != "issue":  # worded as MLflow's server words it
            raise InvalidParameterValue(
                f"Expected a quoted string value for {entity} (e.g. 'my-value'). Got value ({op})"
            )
    else:
        if key == "content":
            allowed = {"LIKE", "ILIKE"}
        elif key in _SPAN_FIELDS or (key.startswith("attributes.") and len(key) > len("attributes.")):
            allowed = STRING_OPS | LIST_OPS
        else:
            raise InvalidParameterValue(
                f"Invalid span attribute '{key}'. Supported attributes: name, status, type, attributes.<attribute_name>."
            )
    if op not in allowed:
        raise InvalidParameterValue(
            f"Invalid comparator '{op}' for {entity} '{key}': use one of {sorted(allowed)}."
        )


def _value_list(tokens: list[Token], pos: int, source: str) -> tuple[tuple[str, ...], int]:
    if pos >= len(tokens) or tokens[pos].text != "(":
        raise InvalidParameterValue(
            f"Invalid filter '{source}': IN takes a parenthesised list of quoted strings."
        )
    values: list[str] = []
    pos += 1
    while pos < len(tokens):
        token = tokens[pos]
        if token.kind != "string":
            break
        values.append(unquote(token.text))
        pos += 1
        if pos < len(tokens) and tokens[pos].text == ",":
            pos += 1
            continue
        if pos < len(tokens) and tokens[pos].text == ")":
            return tuple(values), pos + 1
        break
    raise InvalidParameterValue(
        f"Invalid filter '{source}': IN takes a parenthesised list of quoted strings."
    )


# ---------------------------------------------------------------------------------------------
# SQL


def _compare(field: str, op: str, value) -> Q:
    if op == "!=":
        return ~Q(**{field: value})
    if op == "NOT IN":
        return ~Q(**{f"{field}__in": value})
    return Q(**{f"{field}__{_LOOKUP[op]}": value})


def _condition(comparison: TraceComparison):
    entity, key, op, value = comparison.entity, comparison.key, comparison.op, comparison.value
    if entity == "attribute":
        if key in ("timestamp_ms", "end_time_ms"):
            moment = ms_to_datetime(max(0, int(value)), key)  # type: ignore[arg-type]
            return _compare("request_time" if key == "timestamp_ms" else "end_time", op, moment)
        field = {
            "execution_time_ms": "execution_duration_ms",
            "status": "state",
            "request_id": "trace_id",
        }.get(key, key)
        return _compare(field, op, value)
    if entity in ("tag", "metadata"):
        rows = (TraceTag if entity == "tag" else TraceMetadata).objects.filter(trace=OuterRef("pk"), key=key)
        if op == "IS NULL":
            return ~Exists(rows)
        if op == "IS NOT NULL":
            return Exists(rows)
        return Exists(rows.filter(_compare("value", op, value)))
    if entity == "issue":
        return Exists(
            Assessment.objects.filter(trace=OuterRef("pk"), name=str(value), assessment_type="issue")
        )
    if entity in _ASSESSMENT_ENTITIES:
        return _assessment_condition(entity, key, op, value)
    if entity == "run":
        return Exists(TraceRunLink.objects.filter(trace=OuterRef("pk"), run_id=value)) | Exists(
            TraceMetadata.objects.filter(trace=OuterRef("pk"), key=SOURCE_RUN_METADATA, value=value)
        )
    if entity == "prompt":
        # A prompt version linked to the trace, as the tag lists them ([{"name", "version"}]).
        name, version = value.split("/")
        listed = json.dumps({"name": name, "version": version})[1:-1]
        # Linked by LinkPromptsToTrace, or listed in the tag (which the client also sets).
        return Exists(
            TracePromptLink.objects.filter(trace=OuterRef("pk"), name=name, version=version)
        ) | Exists(TraceTag.objects.filter(trace=OuterRef("pk"), key=key, value__contains=listed))
    spans = Span.objects.filter(trace=OuterRef("pk"))
    if entity == "text" or key == "content":
        return Exists(spans.filter(_compare("content", op, value)))
    if key in _SPAN_FIELDS:
        return Exists(spans.filter(_compare(_SPAN_FIELDS[key], op, value)))
    return Exists(spans.filter(_attribute_q(key[len("attributes.") :], op, value)))


def _assessment_condition(entity: str, key: str, op: str, value):
    """Traces with a valid assessment of the kind and name that matches, or one of their session
    judged as a whole by a matching assessment of another trace of the session."""
    named = Assessment.objects.filter(assessment_type=entity, name=key, valid=True)
    if op in _NUMERIC_ASSESSMENT_OPS:
        named = named.filter(is_numeric_value=True, **{f"aggregate_value__{LOOKUPS[op]}": value})
    elif op in ("=", "!="):
        same = Q(value=value) | Q(value=json.dumps(value))
        named = named.filter(same if op == "=" else ~same)
    elif op not in NULL_OPS:
        named = named.filter(**{f"value__{_LOOKUP[op]}": value})
    own = Exists(named.filter(trace=OuterRef("pk")))
    # Only a trace of a session asks whether a trace of the same session, in the same experiment,
    # has a matching assessment about the whole session: correlated on the session's id, so that
    # the question costs nothing for the (many) traces of no session.
    judged_session = named.filter(
        metadata__contains=f'"{SESSION_METADATA}":',
        trace__experiment=OuterRef(OuterRef("experiment")),
        trace__metadata__key=SESSION_METADATA,
        trace__metadata__value=OuterRef("value"),
    )
    of_session = Exists(
        TraceMetadata.objects.filter(trace=OuterRef("pk"), key=SESSION_METADATA).filter(
            Exists(judged_session)
        )
    )
    found = own | of_session
    return ~found if op == "IS NULL" else found


def _attribute_q(name: str, op: str, value) -> Q:
    """A span attribute's value, matched in the span's JSON, where values are JSON text."""
    key = json.dumps(name, ensure_ascii=False)

    def one(text: str) -> Q:
        # A string is stored JSON-encoded twice ("\"gpt\""); a number or boolean once.
        encoded = json.dumps(json.dumps(text, ensure_ascii=False), ensure_ascii=False)
        return Q(content__contains=f"{key}: {encoded}") | Q(content__contains=f"{key}: {json.dumps(text)}")

    if op in ("=", "!="):
        found = one(value)
        return ~found if op == "!=" else found
    if op in LIST_OPS:
        found = Q()
        for item in value:
            found |= one(item)
        return ~found if op == "NOT IN" else found
    # Patterns read the span's JSON as MLflow's server reads it, so that a pattern written for it
    # finds the same spans here: LIKE '%"<name>"<pattern>%', and a regular expression anchored on
    # the JSON-encoded value (`^` at its opening quote, `$` at its closing one).
    if op == "RLIKE":
        body, opening, closing = value, '"\\\\".*', ""
        if body.startswith("^"):
            body, opening = body[1:], '"\\\\"'
        if body.endswith("$"):
            body, closing = body[:-1], '\\\\"'
        return Q(content__regex=f'"{name}": {opening}{body}{closing}')
    return Q(**{f"content__{_LOOKUP[op]}": f'%"{name}"{value}%'})


def filter_traces(queryset: QuerySet, comparisons: list[TraceComparison]) -> QuerySet:
    for comparison in comparisons:
        queryset = queryset.filter(_condition(comparison))
    return queryset


_ORDER_ATTRIBUTES = {
    "timestamp_ms": "request_time",
    "timestamp": "request_time",
    "execution_time_ms": "execution_duration_ms",
    "execution_time": "execution_duration_ms",
    "end_time_ms": "end_time",
    "end_time": "end_time",
    "status": "state",
    "request_id": "trace_id",
    "experiment_id": "experiment__number",
}
# Columns that are never NULL: ordering them without NULLS FIRST/LAST lets PostgreSQL walk the
# (experiment, -request_time, trace_id) index (0.05 ms for a page at 100,000 traces, not 105 ms).
_NOT_NULL_ORDER_FIELDS = {"request_time", "state", "trace_id", "experiment__number"}


def order_traces(queryset: QuerySet, order_by: list[str] | None) -> QuerySet:
    """MLflow's order: the keys given, then newest first, then by id."""
    ordering = []
    fields = set()
    for index, clause in enumerate(order_by or []):
        words = clause.strip().split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
            raise InvalidParameterValue(f"Invalid order_by clause '{clause}'.")
        ascending = len(words) == 1 or words[1].upper() == "ASC"
        parts = [unquote(p) if is_quoted(p) else p for p in path_parts(words[0])]
        if len(parts) == 2 and parts[0] in ("attribute", "attributes", "trace"):
            parts = parts[1:]
        key = parts[0] if len(parts) == 1 else None
        if key in ("name", "run_id"):
            model, row_key = (
                (TraceTag, "mlflow.traceName") if key == "name" else (TraceMetadata, SOURCE_RUN_METADATA)
            )
            alias = f"_order_{index}"
            queryset = queryset.annotate(
                **{
                    alias: Subquery(
                        model.objects.filter(trace=OuterRef("pk"), key=row_key).values("value")[:1]
                    )
                }
            )
            field = alias
        elif key in _ORDER_ATTRIBUTES:
            field = _ORDER_ATTRIBUTES[key]
        else:
            raise InvalidParameterValue(
                f"Invalid order_by entity or key in '{clause}': order by {sorted(_ORDER_ATTRIBUTES)}, name or run_id."
            )
        fields.add(field)
        if field in _NOT_NULL_ORDER_FIELDS:
            ordering.append(F(field).asc() if ascending else F(field).desc())
        else:
            ordering.append(F(field).asc(nulls_first=True) if ascending else F(field).desc(nulls_last=True))
    if "request_time" not in fields:
        ordering.append(F("request_time").desc())
    if "trace_id" not in fields:
        ordering.append(F("trace_id").asc())
    return queryset.order_by(*ordering)
