"""Registry search: MLflow's filter and order_by for registered models and model versions, as SQL.

The grammar (`tracking.search.grammar`) parses; this module maps what it returns to columns and
writes one parameterised SQL query (values are always parameters, never SQL). It writes SQL
itself rather than building ORM querysets because these searches sit on the client's hot path
(every `search_model_versions`), and building the ORM query cost more than running it.
LIKE and ILIKE keep MLflow's meaning on both databases, as `tracking.search.lookups` does.

Semantics follow MLflow's SQL store:
* a tag comparison needs the tag: `tags.x != 'y'` matches models that have `x` with another value;
* prompts (models tagged `mlflow.prompt.is_prompt = true`) are left out unless the filter asks
  for them (`tags.mlflow.prompt.is_prompt = 'true'`); MLflow's client appends
  `tag.mlflow.prompt.is_prompt != 'true'` to every model search, which means the same thing;
* registered models sort by the requested keys, then by name; versions by the requested keys
  (default: last update DESC), then name ASC and version DESC.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

from tracking.errors import InvalidParameterValue
from tracking.raw_sql import quote as _q
from tracking.raw_sql import table as _table
from tracking.search.grammar import (
    Comparison,
    OrderKey,
    parse_model_version_filter,
    parse_model_version_order_by,
    parse_registered_model_filter,
    parse_registered_model_order_by,
)
from tracking.search.lookups import like_to_glob

from .models import ModelVersionTag, RegisteredModelTag
from .validation import PROMPT_TAG, check_text

# Identifiers the grammar accepts -> columns of `m` (registered models) and `v` (versions).
_MODEL_FILTERS = {"name": "m.name"}
_MODEL_ORDER = {
    "name": "m.name",
    "creation_timestamp": "m.created_at",
    "last_updated_timestamp": "m.updated_at",
}
_VERSION_FILTERS = {
    "name": "m.name",
    "version_number": "v.{version}",
    "run_id": "v.run_id",
    "source_path": "v.{source}",
}
_VERSION_ORDER = {
    "name": "m.name",
    "version_number": "v.{version}",
    "creation_timestamp": "v.created_at",
    "last_updated_timestamp": "v.updated_at",
}
_PLAIN_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
DEFAULT_VERSION_ORDER = ["last_updated_timestamp DESC", "name ASC", "version_number DESC"]
_INT64 = 2**63


@dataclass
class Query:
    """A WHERE clause and an ORDER BY over the tables aliased `m` (models) and `v` (versions)."""

    where: list[str] = field(default_factory=list)
    params: list = field(default_factory=list)
    order_by: list[str] = field(default_factory=list)

    def sql(self, select_from: str, *, limit: int, offset: int) -> tuple[str, list]:
        """`select_from` (SELECT ... FROM ... with `m` and `v`), filtered, ordered and cut to a page."""
        return (
            f"{select_from} WHERE {' AND '.join(self.where)} ORDER BY {', '.join(self.order_by)} "
            "LIMIT %s OFFSET %s",
            # A page token may claim any offset; past the last row every page is empty anyway.
            [*self.params, limit, min(offset, _INT64 - 1)],
        )


def registered_model_query(workspace_pk: int, filter_string: str, order_by: list[str]) -> Query:
    comparisons = parse_registered_model_filter(filter_string)
    order_keys = parse_registered_model_order_by(order_by)
    query = Query(["m.workspace_id = %s"], [workspace_pk])
    _filter(query, comparisons, _MODEL_FILTERS, _table(RegisteredModelTag), "model_id", "m.id")
    query.order_by = [_order(key, _MODEL_ORDER) for key in order_keys]
    if not any(key.key == "name" for key in order_keys):
        query.order_by.append("m.name ASC")
    return query


def model_version_query(workspace_pk: int, filter_string: str, order_by: list[str]) -> Query:
    comparisons = parse_model_version_filter(filter_string)
    order_keys = parse_model_version_order_by(order_by or DEFAULT_VERSION_ORDER)
    query = Query(["m.workspace_id = %s"], [workspace_pk])
    _filter(query, comparisons, _VERSION_FILTERS, _table(ModelVersionTag), "version_id", "v.id")
    query.order_by = [_order(key, _VERSION_ORDER) for key in order_keys]
    named = {key.key for key in order_keys}
    if "name" not in named:
        query.order_by.append("m.name ASC")
    if "version_number" not in named:
        query.order_by.append(f"v.{_q('version')} DESC")
    return query


def _filter(
    query: Query,
    comparisons: list[Comparison],
    columns: dict[str, str],
    tag_table: str,
    tag_parent: str,
    parent: str,
) -> None:
    asks_for_prompts = False
    for comparison in comparisons:
        if comparison.entity == "tag":
            if comparison.key == PROMPT_TAG:
                if not _selects_prompts(comparison):
                    continue  # "not a prompt" is what the prompt exclusion below does
                asks_for_prompts = True
            value_sql, value_params = _compare(f"t.{_q('value')}", comparison)
            query.where.append(
                f"EXISTS (SELECT 1 FROM {tag_table} t WHERE t.{tag_parent} = {parent} "
                f"AND t.{_q('key')} = %s AND {value_sql})"
            )
            query.params += [comparison.key, *value_params]
            continue
        if comparison.key not in columns:
            raise InvalidParameterValue(f"Invalid attribute key '{comparison.key}' specified.")
        value_sql, value_params = _compare(_column(columns[comparison.key]), comparison)
        query.where.append(value_sql)
        query.params += value_params
    if not asks_for_prompts:
        # A version is a prompt's when its registered model is one.
        query.where.append(
            f"NOT EXISTS (SELECT 1 FROM {_table(RegisteredModelTag)} p WHERE p.model_id = m.id "
            f"AND p.{_q('key')} = %s AND p.{_q('value')} = %s)"
        )
        query.params += [PROMPT_TAG, "true"]


def _selects_prompts(comparison: Comparison) -> bool:
    value = str(comparison.value).lower()
    return (comparison.op == "=" and value == "true") or (comparison.op == "!=" and value == "false")


def _compare(column: str, comparison: Comparison) -> tuple[str, list]:
    op, value = comparison.op, comparison.value
    for text in value if isinstance(value, tuple) else (value,):
        if isinstance(text, str):
            check_text("filter", text)
    sqlite = connection.vendor == "sqlite"
    if isinstance(value, int):
        value = max(min(value, _INT64 - 1), -_INT64)  # beyond any stored number either way
    if op in _PLAIN_OPS:
        return f"{column} {_PLAIN_OPS[op]} %s", [value]
    if op == "LIKE":
        # SQLite's LIKE ignores case; GLOB does not.
        return (f"{column} GLOB %s", [like_to_glob(value)]) if sqlite else (f"{column} LIKE %s", [value])
    if op == "ILIKE":
        return (f"LOWER({column}) LIKE LOWER(%s)", [value]) if sqlite else (f"{column} ILIKE %s", [value])
    if op in ("IN", "NOT IN"):
        return f"{column} {op} ({', '.join(['%s'] * len(value))})", list(value)
    raise InvalidParameterValue(f"Invalid comparator '{op}' in a registry search.")


def _order(key: OrderKey, columns: dict[str, str]) -> str:
    column = columns.get(key.key)
    if column is None:
        raise InvalidParameterValue(f"Invalid order_by key '{key.key}' specified.")
    return f"{_column(column)} {'ASC' if key.ascending else 'DESC'}"


def _column(template: str) -> str:
    return template.format(version=_q("version"), source=_q("source"))
