"""MLflow's search filter and order_by grammar, for runs, experiments, the registry and logged models.

A filter is a list of comparisons joined by ``AND``::

    metrics.acc > 0.9 AND params.model = 'cnn' AND tags.`mlflow.runName` LIKE 'bert%'
    attributes.run_id IN ('a1', 'b2') AND tags.reviewed IS NULL

An order_by item is an identifier with an optional direction: ``metrics.`val loss` DESC``.

Each search endpoint accepts different identifiers and comparators; a `_Grammar` table describes
one endpoint, following MLflow's `search_utils` and its SQL stores (which reject at query time some
inputs the MLflow parser lets through, such as ``params.x > 'a'``: here they fail while parsing).
The parser returns plain Python values and never builds SQL, so a value cannot become code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tracking.errors import InvalidParameterValue
from tracking.search.tokens import (
    Token,
    is_integer,
    is_quoted,
    number_value,
    path_parts,
    tokenize,
    unquote,
)

# Bounds of one search, far above what people and MLflow's UI ask for: every comparison and every
# ordered key of a metric, param or tag is a join, and databases fail (SQLite allows 64 tables in
# a join; too many ordering terms have crashed it) long before a person would notice a limit.
MAX_FILTER_LENGTH = 20_000
MAX_COMPARISONS = 40
MAX_ORDER_BY_KEYS = 10

__all__ = [
    "MAX_COMPARISONS",
    "MAX_ORDER_BY_KEYS",
    "Comparison",
    "OrderKey",
    "parse_experiment_filter",
    "parse_experiment_order_by",
    "parse_logged_model_filter",
    "parse_model_version_filter",
    "parse_model_version_order_by",
    "parse_registered_model_filter",
    "parse_registered_model_order_by",
    "parse_run_filter",
    "parse_run_order_by",
]


@dataclass(frozen=True, slots=True)
class Comparison:
    entity: str  # "metric" | "param" | "tag" | "attribute" | "dataset"
    key: str  # metric/param/tag key, canonical attribute name, or dataset field
    op: str  # "=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL"
    value: float | int | str | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class OrderKey:
    entity: str  # "metric" | "param" | "tag" | "attribute"
    key: str
    ascending: bool


NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE"})
LIST_OPS = frozenset({"IN", "NOT IN"})
NULL_OPS = frozenset({"IS NULL", "IS NOT NULL"})
_OP_ORDER = ("=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL")
DATASET_KEYS = ("name", "digest", "context")
_KEYWORDS = frozenset({"OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE"})


@dataclass(frozen=True)
class _Grammar:
    """What one search endpoint accepts."""

    prefixes: Mapping[str, str]  # identifier prefix -> entity ("metrics" -> "metric")
    attributes: Mapping[str, str]  # attribute spelling accepted in filters -> canonical name
    attribute_ops: Mapping[str, frozenset[str]]  # canonical attribute -> comparators
    numeric_attributes: frozenset[str]
    entity_ops: Mapping[str, frozenset[str]]  # "metric" / "param" / "tag" / "dataset" -> comparators
    order_attributes: Mapping[str, str] = field(default_factory=dict)
    order_entities: frozenset[str] = frozenset({"attribute"})
    # Experiments and the registry reject fractional timestamps and versions (SQL store behaviour).
    integer_attributes: bool = False
    # Model versions: MLflow's store casts `version_number = '3'` to an int, so clients send it.
    quoted_integers: bool = False
    # Logged models: MLflow's own example is `params.lr = 0.01`, so numbers count as strings there.
    numbers_as_strings: bool = False


def _prefixes(**entities: Iterable[str]) -> dict[str, str]:
    return {prefix: entity for entity, spellings in entities.items() for prefix in spellings}


_RUN_STRING_ATTRIBUTES = ("run_id", "run_name", "status", "user_id", "artifact_uri")
_RUN_ATTRIBUTES = {name: name for name in (*_RUN_STRING_ATTRIBUTES, "start_time", "end_time")}
_RUN_ALIASES = {"created": "start_time", "Created": "start_time"}

RUNS = _Grammar(
    prefixes=_prefixes(
        metric=("metric", "metrics"),
        param=("param", "params", "parameter", "parameters"),
        tag=("tag", "tags"),
        attribute=("attribute", "attributes", "attr", "run"),
        dataset=("dataset", "datasets"),
    ),
    attributes=_RUN_ATTRIBUTES
    | _RUN_ALIASES
    | dict.fromkeys(("run name", "Run name", "Run Name"), "run_name"),
    attribute_ops={name: STRING_OPS for name in _RUN_STRING_ATTRIBUTES}
    | {"run_id": STRING_OPS | LIST_OPS, "start_time": NUMERIC_OPS, "end_time": NUMERIC_OPS},
    numeric_attributes=frozenset({"start_time", "end_time"}),
    entity_ops={
        "metric": NUMERIC_OPS,
        "param": STRING_OPS | NULL_OPS,
        "tag": STRING_OPS | NULL_OPS,
        "dataset": STRING_OPS | LIST_OPS,
    },
    order_attributes=_RUN_ATTRIBUTES | _RUN_ALIASES,
    order_entities=frozenset({"attribute", "metric", "param", "tag"}),
)

_EXPERIMENT_ATTRIBUTES = ("name", "experiment_id", "creation_time", "last_update_time")
EXPERIMENTS = _Grammar(
    prefixes=_prefixes(attribute=("attribute",), tag=("tag", "tags")),
    attributes={name: name for name in _EXPERIMENT_ATTRIBUTES},
    attribute_ops={
        "name": STRING_OPS,
        "experiment_id": frozenset({"=", "!="}) | LIST_OPS,
        "creation_time": NUMERIC_OPS,
        "last_update_time": NUMERIC_OPS,
    },
    numeric_attributes=frozenset({"creation_time", "last_update_time"}),
    entity_ops={"tag": STRING_OPS | NULL_OPS},
    order_attributes={name: name for name in _EXPERIMENT_ATTRIBUTES},
    integer_attributes=True,
)

_REGISTRY_PREFIXES = _prefixes(attribute=("attribute",), tag=("tag", "tags"))
_TIMESTAMPS = {"creation_timestamp": "creation_timestamp", "last_updated_timestamp": "last_updated_timestamp"}

REGISTERED_MODELS = _Grammar(
    prefixes=_REGISTRY_PREFIXES,
    attributes={"name": "name"},
    attribute_ops={"name": STRING_OPS | LIST_OPS},
    numeric_attributes=frozenset(),
    entity_ops={"tag": STRING_OPS},
    # MLflow's SQL store accepts "timestamp" as a synonym of last_updated_timestamp.
    order_attributes={"name": "name", "timestamp": "last_updated_timestamp", **_TIMESTAMPS},
    integer_attributes=True,
)

MODEL_VERSIONS = _Grammar(
    prefixes=_REGISTRY_PREFIXES,
    attributes={name: name for name in ("name", "version_number", "run_id", "source_path")},
    attribute_ops={
        "name": STRING_OPS | LIST_OPS,
        "run_id": STRING_OPS | LIST_OPS,
        "source_path": STRING_OPS,
        "version_number": NUMERIC_OPS,
    },
    numeric_attributes=frozenset({"version_number"}),
    entity_ops={"tag": STRING_OPS},
    order_attributes={"name": "name", "version_number": "version_number", **_TIMESTAMPS},
    integer_attributes=True,
    quoted_integers=True,
)

_LOGGED_MODEL_STRINGS = ("name", "model_id", "model_type", "status", "source_run_id")
LOGGED_MODELS = _Grammar(
    prefixes=_prefixes(
        metric=("metrics", "metric"),
        param=("params", "param"),
        tag=("tags", "tag"),
        attribute=("attributes", "attribute"),
    ),
    attributes={name: name for name in _LOGGED_MODEL_STRINGS}
    | {"creation_time": "creation_timestamp", "last_updated_time": "last_updated_timestamp"}
    | _TIMESTAMPS,
    attribute_ops={name: STRING_OPS | LIST_OPS for name in _LOGGED_MODEL_STRINGS}
    | {"creation_timestamp": NUMERIC_OPS, "last_updated_timestamp": NUMERIC_OPS},
    numeric_attributes=frozenset({"creation_timestamp", "last_updated_timestamp"}),
    entity_ops={"metric": NUMERIC_OPS, "param": STRING_OPS | LIST_OPS, "tag": STRING_OPS | LIST_OPS},
    numbers_as_strings=True,
)


# ---------------------------------------------------------------------------------------------
# Public API


def parse_run_filter(filter_string: str | None) -> list[Comparison]:
    return _parse_filter(filter_string, RUNS)


def parse_run_order_by(order_by: list[str] | None) -> list[OrderKey]:
    return _parse_order_by(order_by, RUNS)


def parse_experiment_filter(filter_string: str | None) -> list[Comparison]:
    return _parse_filter(filter_string, EXPERIMENTS)


def parse_experiment_order_by(order_by: list[str] | None) -> list[OrderKey]:
    return _parse_order_by(order_by, EXPERIMENTS)


def parse_registered_model_filter(filter_string: str | None) -> list[Comparison]:
    return _parse_filter(filter_string, REGISTERED_MODELS)


def parse_registered_model_order_by(order_by: list[str] | None) -> list[OrderKey]:
    return _parse_order_by(order_by, REGISTERED_MODELS)


def parse_model_version_filter(filter_string: str | None) -> list[Comparison]:
    return _parse_filter(filter_string, MODEL_VERSIONS)


def parse_model_version_order_by(order_by: list[str] | None) -> list[OrderKey]:
    return _parse_order_by(order_by, MODEL_VERSIONS)


def parse_logged_model_filter(filter_string: str | None) -> list[Comparison]:
    return _parse_filter(filter_string, LOGGED_MODELS)


# ---------------------------------------------------------------------------------------------
# Filters


class _Cursor:
    """The tokens of one filter, read left to right."""

    __slots__ = ("pos", "tokens")

    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token | None:
        token = self.peek()
        self.pos += 1
        return token


def _parse_filter(filter_string: str | None, grammar: _Grammar) -> list[Comparison]:
    if filter_string is None:
        return []
    if not isinstance(filter_string, str):
        raise InvalidParameterValue(f"Invalid filter {filter_string!r}: expected a string.")
    if len(filter_string) > MAX_FILTER_LENGTH:
        raise InvalidParameterValue(
            f"The filter has {len(filter_string)} characters; at most {MAX_FILTER_LENGTH} are accepted."
        )
    cursor = _Cursor(tokenize(filter_string, "filter"))
    comparisons: list[Comparison] = []
    needs_and = False
    while (token := cursor.peek()) is not None:
        if token.word == "AND":
            # MLflow ignores stray ANDs ("x = 'a' AND", "AND AND ..."), and its own registry
            # client produces "<blank> AND tag...." for a blank filter, so tolerate them.
            cursor.take()
            needs_and = False
            continue
        if needs_and:
            raise InvalidParameterValue(
                f"Invalid clause(s) in filter string: '{token.text}'. "
                "Only comparisons joined by AND are supported."
            )
        if len(comparisons) == MAX_COMPARISONS:
            raise InvalidParameterValue(
                f"The filter has more than {MAX_COMPARISONS} comparisons; at most {MAX_COMPARISONS} are "
                "accepted in one search."
            )
        comparisons.append(_parse_comparison(cursor, grammar))
        needs_and = True
    return comparisons


def _parse_comparison(cursor: _Cursor, grammar: _Grammar) -> Comparison:
    subject = cursor.take()
    assert subject is not None  # the caller peeked it
    if not _is_identifier(subject):
        hint = " Parentheses are only supported around IN lists." if subject.text == "(" else ""
        raise InvalidParameterValue(
            f"Invalid clause(s) in filter string: '{subject.text}'. "
            f'Expected a comparison such as "metrics.acc > 0.9".{hint}'
        )
    entity, key = _resolve(subject, grammar, grammar.attributes)
    op = _parse_operator(cursor, subject)
    allowed = grammar.attribute_ops[key] if entity == "attribute" else grammar.entity_ops[entity]
    if op not in allowed:
        raise InvalidParameterValue(_bad_operator_message(op, entity, key, allowed, grammar))
    if op in NULL_OPS:
        return Comparison(entity, key, op, None)
    if op in LIST_OPS:
        return Comparison(entity, key, op, _parse_list(cursor, grammar))
    value = cursor.take()
    if value is None or value.word == "AND":
        raise InvalidParameterValue(
            f"Invalid comparison clause '{subject.text} {op}': expected a value after '{op}'."
        )
    numeric = entity == "metric" or (entity == "attribute" and key in grammar.numeric_attributes)
    if numeric:
        return Comparison(entity, key, op, _numeric_value(value, entity, key, grammar))
    return Comparison(entity, key, op, _string_value(value, entity, grammar))


def _parse_operator(cursor: _Cursor, subject: Token) -> str:
    token = cursor.take()
    if token is None or token.word == "AND":
        raise InvalidParameterValue(
            f"Invalid clause(s) in filter string: '{subject.text}'. Expected a comparator and a value "
            "after it."
        )
    if token.kind == "op":
        if token.text in ("==", "<>"):
            raise InvalidParameterValue(f"Invalid comparator '{token.text}'. Use '=' or '!=' instead.")
        return token.text
    word = token.word
    if word in ("LIKE", "ILIKE", "IN"):
        return word
    if word == "NOT" and _next_word(cursor) == "IN":
        return "NOT IN"
    if word == "IS":
        following = _next_word(cursor)
        if following == "NULL":
            return "IS NULL"
        if following == "NOT" and _next_word(cursor) == "NULL":
            return "IS NOT NULL"
        raise InvalidParameterValue(
            f"Invalid comparison clause for '{subject.text}': expected IS NULL or IS NOT NULL."
        )
    raise InvalidParameterValue(
        f"Invalid comparison clause for '{subject.text}': expected a comparator, found '{token.text}'."
    )


def _next_word(cursor: _Cursor) -> str | None:
    token = cursor.take()
    return token.word if token is not None else None


def _parse_list(cursor: _Cursor, grammar: _Grammar) -> tuple[str, ...]:
    """`( 'a', "b" [,] )`: a non-empty list of quoted strings (a trailing comma is allowed)."""
    if (token := cursor.take()) is None or token.text != "(":
        raise InvalidParameterValue(
            "Expected a parenthesised list of quoted string values after IN / NOT IN, "
            f"e.g. ('a', 'b'); found {token.text if token else 'nothing'}."
        )
    items: list[str] = []
    while True:
        token = cursor.take()
        if token is None:
            raise InvalidParameterValue(
                "While parsing a list in the query, expected a closing ')' but reached the end of the filter."
            )
        if token.text == ")":
            break
        if token.kind == "string":
            items.append(unquote(token.text))
        elif token.kind == "number" and grammar.numbers_as_strings:
            items.append(token.text)
        else:
            raise InvalidParameterValue(
                "While parsing a list in the query, expected a non-empty list of quoted string values, "
                f"but found {token.text}."
            )
        token = cursor.take()
        if token is not None and token.text == ")":
            break
        if token is None or token.text != ",":
            raise InvalidParameterValue(
                "While parsing a list in the query, expected ',' or ')' after a value"
                + (f" but found {token.text}." if token else " but reached the end of the filter.")
            )
    if not items:
        raise InvalidParameterValue(
            "While parsing a list in the query, expected a non-empty list of string values, but got empty list"
        )
    return tuple(items)


def _numeric_value(token: Token, entity: str, key: str, grammar: _Grammar) -> int | float:
    if entity == "metric":
        if token.kind != "number":
            raise InvalidParameterValue(f"Expected numeric value type for metric. Found {token.text}")
        return float(token.text)
    text = token.text
    if token.kind == "string" and grammar.quoted_integers:
        text = unquote(text).strip()
        if not is_integer(text):
            raise InvalidParameterValue(f"Invalid value for numeric attribute '{key}': {token.text}")
    elif token.kind != "number":
        raise InvalidParameterValue(
            f"Expected numeric value type for numeric attribute: {key}. Found {token.text}"
        )
    if grammar.integer_attributes and not is_integer(text):
        raise InvalidParameterValue(f"Invalid value for numeric attribute '{key}': {token.text}")
    return number_value(text)


def _string_value(token: Token, entity: str, grammar: _Grammar) -> str:
    if token.kind == "string":
        return unquote(token.text)
    if token.kind == "number" and grammar.numbers_as_strings:
        return token.text
    if token.kind == "path":
        raise InvalidParameterValue(
            "Parameter value is either not quoted or unidentified quote types used for string value "
            f"{token.text}. Use either single or double quotes."
        )
    raise InvalidParameterValue(
        f"Expected a quoted string value for {entity} (e.g. 'my-value'). Got value {token.text}"
    )


def _bad_operator_message(op: str, entity: str, key: str, allowed: frozenset[str], grammar: _Grammar) -> str:
    if op in LIST_OPS and entity == "attribute":
        supported = sorted(name for name, ops in grammar.attribute_ops.items() if op in ops)
        return f"Only {supported} attributes support comparison with a list of quoted string values."
    if op in NULL_OPS:
        supported = [name for name, ops in grammar.entity_ops.items() if op in ops]
        if not supported:
            return "IS NULL / IS NOT NULL is not supported in this search."
        return f"IS NULL / IS NOT NULL is only supported for {supported}, not for {entity} '{key}'"
    expected = [candidate for candidate in _OP_ORDER if candidate in allowed]
    return f"Invalid comparator '{op}' for {entity} '{key}', not one of {expected}"


# ---------------------------------------------------------------------------------------------
# Identifiers


def _is_identifier(token: Token) -> bool:
    # A double-quoted name is a quoted attribute (`"run name"`); single quotes always mean a value.
    if token.kind == "string":
        return token.text.startswith('"')
    return token.kind == "path" and token.word not in _KEYWORDS


def _resolve(token: Token, grammar: _Grammar, attributes: Mapping[str, str]) -> tuple[str, str]:
    """The (entity, key) an identifier token names; attribute names come back canonical."""
    parts = [token.text] if token.kind == "string" else path_parts(token.text)
    if len(parts) == 1:
        entity, key = "attribute", _part_value(parts[0])
    else:
        prefix = _part_value(parts[0])
        entity = grammar.prefixes.get(prefix)
        if entity is None:
            valid = sorted(grammar.prefixes)
            raise InvalidParameterValue(f"Invalid entity type '{prefix}'. Valid values are {valid}")
        key = _key_from_parts(token.text, parts[1:])
    if entity == "attribute":
        canonical = attributes.get(key)
        if canonical is None:
            raise InvalidParameterValue(
                f"Invalid attribute key '{key}' specified. Valid keys are {sorted(attributes)}"
            )
        return entity, canonical
    if entity == "dataset" and key not in DATASET_KEYS:
        raise InvalidParameterValue(
            f"Invalid dataset key '{key}' specified. Valid keys are {list(DATASET_KEYS)}"
        )
    return entity, key


def _key_from_parts(identifier: str, parts: list[str]) -> str:
    if len(parts) == 1:
        key = _part_value(parts[0])
    elif any(is_quoted(part) for part in parts):
        # MLflow would keep the quotes inside the key ("`a.b`.c"); a key no one can have.
        raise InvalidParameterValue(
            f"Invalid identifier '{identifier}': quote the whole key, e.g. tags.`a.b.c`."
        )
    else:
        # MLflow splits on the first dot only, so `tags.mlflow.runName` names "mlflow.runName".
        key = ".".join(parts)
    if not key:
        raise InvalidParameterValue(f"Invalid identifier '{identifier}': the key must not be empty.")
    return key


def _part_value(part: str) -> str:
    return unquote(part) if is_quoted(part) else part


# ---------------------------------------------------------------------------------------------
# order_by


def _parse_order_by(order_by: list[str] | None, grammar: _Grammar) -> list[OrderKey]:
    if order_by is None:
        return []
    if isinstance(order_by, str):
        # A bare string would otherwise be read one character at a time.
        raise InvalidParameterValue(f"Invalid order_by {order_by!r}: expected a list of strings.")
    if len(order_by) > MAX_ORDER_BY_KEYS:
        raise InvalidParameterValue(
            f"`order_by` has {len(order_by)} keys; at most {MAX_ORDER_BY_KEYS} are accepted in one search."
        )
    keys: list[OrderKey] = []
    seen: set[tuple[str, str]] = set()
    for clause in order_by:
        key = _parse_order_by_clause(clause, grammar)
        if (key.entity, key.key) in seen:
            raise InvalidParameterValue(f"`order_by` contains duplicate fields: {list(order_by)}")
        seen.add((key.entity, key.key))
        keys.append(key)
    return keys


def _parse_order_by_clause(clause: str, grammar: _Grammar) -> OrderKey:
    if not isinstance(clause, str):
        raise InvalidParameterValue(f"Invalid order_by clause {clause!r}: expected a string.")
    tokens = tokenize(clause, "order_by clause")
    unparsable = f"Invalid order_by clause '{clause}'. Could not be parsed."
    if not tokens or len(tokens) > 2:
        raise InvalidParameterValue(unparsable)
    subject = tokens[0]
    if not _is_identifier(subject):
        raise InvalidParameterValue(unparsable)
    ascending = True
    if len(tokens) == 2:
        direction = tokens[1].word
        if direction not in ("ASC", "DESC"):
            raise InvalidParameterValue(f"Invalid ordering key in order_by clause '{clause}'.")
        ascending = direction == "ASC"
    entity, key = _resolve(subject, grammar, grammar.order_attributes)
    if entity not in grammar.order_entities:
        raise InvalidParameterValue(f"Invalid order_by entity '{entity}' in order_by clause '{clause}'.")
    return OrderKey(entity, key, ascending)
