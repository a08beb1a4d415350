"""A row's INSERT, its columns and values built by Django exactly as `Model.save()` would build them
(defaults, conversions, `pre_save`), without the rest of a save's work (its signals and
bookkeeping, and the whole INSERT statement compiled for every row).

On PostgreSQL the caller may place the INSERT in a larger statement: a write that takes several
statements needs a transaction (BEGIN, the statements, COMMIT: a round trip each), and
data-modifying CTEs (`WITH a AS (INSERT ...) INSERT ...`) make such a write one statement, atomic
by itself. On either database `insert_row` runs it alone.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model
from django.db.models.sql import InsertQuery


@dataclass(frozen=True)
class RowInsert:
    fields: list[Field]  # every concrete field but the primary key, which the database numbers
    placeholders: list[str]  # one per field
    params: list  # one per field
    columns: str  # the fields' quoted columns, comma-separated

    def index_of(self, name: str) -> int:
        return next(index for index, field in enumerate(self.fields) if field.name == name)


@functools.cache
def _shape(model: type[Model], vendor: str) -> tuple[list[Field], str, bool]:
    """A model's inserted fields, their columns, and whether every placeholder is a plain %s (no
    field of ours asks for another: PostGIS's would); computed once per model."""
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    return fields, columns, not any(hasattr(field, "get_placeholder") for field in fields)


def row_insert(instance: Model) -> RowInsert:
    """The columns, placeholders and parameters of `instance`'s INSERT."""
    model = type(instance)
    # The connection itself, not `django.db.connection`: that proxy looks the connection up again
    # (a thread-local) on every attribute, and each field's conversion reads several.
    db = connections[DEFAULT_DB_ALIAS]
    fields, columns, plain = _shape(model, db.vendor)
    # What the INSERT's compiler does for each field (`pre_save_val`, then `prepare_value`), when
    # no value is an expression and every placeholder is plain: the same values, a fifth of the calls.
    values = [field.pre_save(instance, True) for field in fields]
    if plain and not any(hasattr(value, "resolve_expression") for value in values):
        params = [field.get_db_prep_save(value, db) for field, value in zip(fields, values, strict=True)]
        return RowInsert(fields, ["%s"] * len(fields), params, columns)
    query = InsertQuery(model)
    query.insert_values(fields, [instance])
    compiler = query.get_compiler(connection=db)
    prepared = [compiler.prepare_value(field, value) for field, value in zip(fields, values, strict=True)]
    (placeholders,), (params,) = compiler.assemble_as_sql(fields, [prepared])
    return RowInsert(fields, list(placeholders), list(params), columns)


def insert_row(instance: Model) -> None:
    """INSERTs `instance` (as `save(force_insert=True)` would, without its signals) and sets its
    primary key from the database."""
    row = row_insert(instance)
    meta = instance._meta
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {q(meta.db_table)} ({row.columns}) VALUES ({', '.join(row.placeholders)}) "
            f"RETURNING {q(meta.pk.column)}",
            row.params,
        )
        (instance.pk,) = cursor.fetchone()
    instance._state.adding, instance._state.db = False, connection.alias


def inserting_pairs_of_created(
    model: type[Model], owner_column: str, pairs: dict[str, str]
) -> tuple[str, list]:
    """PostgreSQL: the CTE `tagged`, which inserts `pairs` as (key, value) rows of `model` (tags)
    owned through `owner_column` by the row the statement's CTE `created` returns (its `id`),
    and its parameters."""
    q = connection.ops.quote_name
    return (
        f"tagged AS (INSERT INTO {q(model._meta.db_table)} ({owner_column}, {q('key')}, {q('value')}) "
        "SELECT created.id, t.k, t.v FROM created, unnest(%s::varchar[], %s::text[]) AS t(k, v))",
        [list(pairs), list(pairs.values())],
    )
