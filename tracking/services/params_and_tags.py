"""A run's params and tags as rows: each write is one plain statement, on SQLite as on PostgreSQL.

A batch's params and tags used to go through the ORM (a look-up of the params held, then
`bulk_create`): building those queries cost more than the database did. Here a batch of params
is one INSERT that reports what it added, and only keys the run held already are read back.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from django.db import connection

from tracking.errors import InvalidParameterValue
from tracking.key_registry import registering_keys
from tracking.models import Param, Run, RunTag
from tracking.raw_sql import fetch_rows, quote, table


def param_changed(run: Run, key: str, old: str | None, new: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Changing param values is not allowed. Param with key='{key}' was already logged with "
        f"value='{old}' for run ID='{run.uuid}'. Attempted logging new value '{new}'."
    )


@functools.lru_cache(maxsize=256)
def _inserting(model: type[Param | RunTag], count: int, on_conflict: str) -> str:
    """The INSERT of `count` pairs (a batch holds at most 100 params and 100 tags), built once."""
    return (
        f"INSERT INTO {table(model)} (run_id, {quote('key')}, {quote('value')}) "
        f"VALUES {', '.join(['(%s, %s, %s)'] * count)} ON CONFLICT (run_id, {quote('key')}) {on_conflict}"
    )


def _rows(run_pk: int, pairs: dict[str, str]) -> list:
    return [column for key, value in pairs.items() for column in (run_pk, key, value)]


# What a pair's INSERT does with a key the run holds already ("key" and "value" need no quoting on
# either database).
_KEEP_HELD = 'DO NOTHING RETURNING "key"'
_TAKE_NEW = 'DO UPDATE SET "value" = EXCLUDED."value"'


def insert_params(run: Run, params: dict[str, str]) -> None:
    """Adds the run's new params. A key the run holds already must hold the same value (MLflow
    never changes a param): otherwise InvalidParameterValue, after rows were added, so the caller's
    transaction, which this requires, must undo them."""
    if not params:
        return
    if not connection.in_atomic_block:
        raise RuntimeError("insert_params writes before it checks: it needs a transaction to undo")
    with connection.cursor() as cursor:
        cursor.execute(_inserting(Param, len(params), _KEEP_HELD), _rows(run.pk, params))
        added = {key for (key,) in cursor.fetchall()}
    held_keys = [key for key in params if key not in added]
    if not held_keys:
        return
    held = dict(
        fetch_rows(
            f"SELECT {quote('key')}, {quote('value')} FROM {table(Param)} "
            f"WHERE run_id = %s AND {quote('key')} IN ({', '.join(['%s'] * len(held_keys))})",
            [run.pk, *held_keys],
        )
    )
    for key in held_keys:
        if held.get(key) != params[key]:
            raise param_changed(run, key, held.get(key), params[key])


def upsert_tags(run_pk: int, tags: dict[str, str]) -> None:
    """Sets the run's tags: new keys are added, held ones take the new value."""
    if not tags:
        return
    with connection.cursor() as cursor:
        cursor.execute(_inserting(RunTag, len(tags), _TAKE_NEW), _rows(run_pk, tags))


def pair_in_one_statement(
    run: Run, model: type[Param | RunTag], kind: str, key: str, value: str, *,
    on_conflict: str, select: str = "1", select_params: Sequence = (),
) -> tuple:  # fmt: skip
    """PostgreSQL: a run's param or tag and its key's registration in one statement, its own
    transaction (no BEGIN and COMMIT); returns the row of `select`, which may read `written`
    (the INSERT's RETURNING) and sees the tables as they were before the statement."""
    registering, params = registering_keys(run.experiment_id, kind, [key])
    with connection.cursor() as cursor:
        cursor.execute(
            f"{registering}written AS (INSERT INTO {table(model)} (run_id, {quote('key')}, {quote('value')}) "
            f"VALUES (%s, %s, %s) ON CONFLICT (run_id, {quote('key')}) {on_conflict}) SELECT {select}",
            [*params, run.pk, key, value, *select_params],
        )
        return cursor.fetchone()
