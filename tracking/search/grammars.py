"""Which identifiers and comparators each search endpoint accepts, and how identifiers resolve.

One `Grammar` per endpoint, following MLflow's `search_utils` and its SQL stores (which reject at
query time some inputs the MLflow parser lets through, such as ``params.x > 'a'``: here they fail
while parsing). Runs and experiments accept more than MLflow: OR, NOT and parentheses, and IN
lists on metrics, params, tags and more attributes (`boolean`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tracking.errors import InvalidParameterValue
from tracking.search.conditions import LIST_OPS, NULL_OPS, NUMERIC_OPS, STRING_OPS
from tracking.search.tokens import Token, is_quoted, path_parts, unquote

DATASET_KEYS = ("name", "digest", "context")
KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE"})


@dataclass(frozen=True)
class Grammar:
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
    # OR, NOT and parentheses (beyond MLflow, which joins comparisons by AND only).
    boolean: bool = False


def _prefixes(**entities: Iterable[str]) -> dict[str, str]:
    return {prefix: entity for entity, spellings in entities.items() for prefix in spellings}


_RUN_STRING_ATTRIBUTES = ("run_id", "run_name", "status", "user_id", "artifact_uri")
_RUN_LISTED_ATTRIBUTES = ("run_id", "run_name", "status", "user_id")
_RUN_ATTRIBUTES = {name: name for name in (*_RUN_STRING_ATTRIBUTES, "start_time", "end_time")}
_RUN_ALIASES = {"created": "start_time", "Created": "start_time"}

RUNS = Grammar(
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
    | {name: STRING_OPS | LIST_OPS for name in _RUN_LISTED_ATTRIBUTES}
    | {"start_time": NUMERIC_OPS, "end_time": NUMERIC_OPS},
    numeric_attributes=frozenset({"start_time", "end_time"}),
    entity_ops={
        "metric": NUMERIC_OPS | LIST_OPS,
        "param": STRING_OPS | NULL_OPS | LIST_OPS,
        "tag": STRING_OPS | NULL_OPS | LIST_OPS,
        "dataset": STRING_OPS | LIST_OPS,
    },
    order_attributes=_RUN_ATTRIBUTES | _RUN_ALIASES,
    order_entities=frozenset({"attribute", "metric", "param", "tag"}),
    boolean=True,
)

_EXPERIMENT_ATTRIBUTES = ("name", "experiment_id", "creation_time", "last_update_time")
EXPERIMENTS = Grammar(
    prefixes=_prefixes(attribute=("attribute",), tag=("tag", "tags")),
    attributes={name: name for name in _EXPERIMENT_ATTRIBUTES},
    attribute_ops={
        "name": STRING_OPS | LIST_OPS,
        "experiment_id": frozenset({"=", "!="}) | LIST_OPS,
        "creation_time": NUMERIC_OPS,
        "last_update_time": NUMERIC_OPS,
    },
    numeric_attributes=frozenset({"creation_time", "last_update_time"}),
    entity_ops={"tag": STRING_OPS | NULL_OPS | LIST_OPS},
    order_attributes={name: name for name in _EXPERIMENT_ATTRIBUTES},
    integer_attributes=True,
    boolean=True,
)

_REGISTRY_PREFIXES = _prefixes(attribute=("attribute",), tag=("tag", "tags"))
_TIMESTAMPS = {"creation_timestamp": "creation_timestamp", "last_updated_timestamp": "last_updated_timestamp"}

REGISTERED_MODELS = Grammar(
    prefixes=_REGISTRY_PREFIXES,
    attributes={"name": "name"},
    attribute_ops={"name": STRING_OPS | LIST_OPS},
    numeric_attributes=frozenset(),
    entity_ops={"tag": STRING_OPS},
    # MLflow's SQL store accepts "timestamp" as a synonym of last_updated_timestamp.
    order_attributes={"name": "name", "timestamp": "last_updated_timestamp", **_TIMESTAMPS},
    integer_attributes=True,
)

MODEL_VERSIONS = Grammar(
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
LOGGED_MODELS = Grammar(
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
# Identifiers


def is_identifier(token: Token) -> bool:
    # A double-quoted name is a quoted attribute (`"run name"`); single quotes always mean a value.
    if token.kind == "string":
        return token.text.startswith('"')
    return token.kind == "path" and token.word not in KEYWORDS


def resolve(token: Token, grammar: Grammar, attributes: Mapping[str, str]) -> tuple[str, str]:
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


# Evaluation datasets (MLflow's SearchEvaluationDatasetsUtils): string attributes, the two
# times, and tags; `name` also takes IN lists.
_DATASET_STRINGS = ("name", "created_by", "last_updated_by")
EVALUATION_DATASETS = Grammar(
    prefixes=_prefixes(attribute=("attribute", "attributes"), tag=("tag", "tags")),
    attributes={name: name for name in (*_DATASET_STRINGS, "created_time", "last_update_time")},
    attribute_ops={name: STRING_OPS for name in _DATASET_STRINGS}
    | {"name": STRING_OPS | LIST_OPS, "created_time": NUMERIC_OPS, "last_update_time": NUMERIC_OPS},
    numeric_attributes=frozenset({"created_time", "last_update_time"}),
    entity_ops={"tag": STRING_OPS},
    order_attributes={name: name for name in ("name", "created_time", "last_update_time")},
    integer_attributes=True,
)

# Issues (MLflow's SearchIssuesUtils): `status` and `source_run_id` with = and !=; IN lists and
# the other plain fields too, which MLflow lacks.
_ISSUE_STRINGS = ("status", "source_run_id", "severity", "name", "created_by")
ISSUES = Grammar(
    prefixes=_prefixes(attribute=("attribute", "attributes")),
    attributes={name: name for name in _ISSUE_STRINGS},
    attribute_ops=dict.fromkeys(_ISSUE_STRINGS, frozenset({"=", "!="}) | LIST_OPS),
    numeric_attributes=frozenset(),
    entity_ops={},
)
