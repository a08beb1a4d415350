"""Plain SQL for the hot read paths, where building ORM queries and instances would cost more than
the database does: quoting, fetching, and datetimes as the ORM would hand them."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import TypeVar

from django.db import connection
from django.db.models import Model

M = TypeVar("M", bound=Model)


@functools.cache
def quote(name: str) -> str:
    # A process has one database, so a name's quoted form never changes: kept, as statements
    # are built on every call and `connection.ops` is a thread-local look-up each time.
    return connection.ops.quote_name(name)


def table(model) -> str:
    return quote(model._meta.db_table)


def fetch_rows(sql: str, params: list | tuple) -> list[tuple]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _read_datetimes_in_c(cursor)
        cursor.execute(sql, params)
        return cursor.fetchall()


def one_of(values: list) -> tuple[str, list]:
    """A condition's right side, "is one of these values", and its parameters: on PostgreSQL one
    array parameter (`= ANY(%s)`), on SQLite a placeholder per value (`IN (%s, ...)`).
    PostgreSQL receives, and plans with, each parameter apart: a page of 100 runs' data, its pks
    bound in five places, took 5.5 ms with 500 parameters and 3.0 with five arrays. SQLite has no
    arrays, and binds in-process."""
    if connection.vendor == "postgresql":
        return "= ANY(%s)", [list(values)]
    return f"IN ({', '.join(['%s'] * len(values))})", list(values)


@functools.cache
def _c_timestamptz_loader() -> type | None:
    """psycopg's own loader of timestamptz text, written in C when psycopg's binary build is
    installed (None without psycopg)."""
    try:
        import psycopg
    except ImportError:
        return None
    return psycopg.adapters.get_loader(psycopg.postgres.types["timestamptz"].oid, psycopg.pq.Format.TEXT)


def _read_datetimes_in_c(cursor) -> None:
    """PostgreSQL: the cursor reads timestamptz columns with psycopg's C loader. Django registers
    a loader of its own, a Python subclass of psycopg's Python one, which costs about 3.5 µs a
    value, ten times the C one: a page of 1,000 experiments has 2,000 datetimes. With the session
    in UTC, as Django keeps it, the two give equal datetimes, aware in `datetime.timezone.utc`.
    (Django checks its loader's time zone on every new cursor, so the C one cannot be registered
    for the whole connection.)"""
    loader = _c_timestamptz_loader()
    if loader is not None and connection.timezone_name == "UTC":
        cursor.cursor.adapters.register_loader("timestamptz", loader)


def aware(moment: datetime | None) -> datetime | None:
    """A datetime column of a raw row made aware, as the ORM would: SQLite hands plain SQL naive
    datetimes (stored in UTC), PostgreSQL aware ones."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


# Column types whose raw values are what the ORM would hand over, on SQLite as on PostgreSQL;
# datetimes are made aware and booleans (SQLite's 0/1) made bool.
_PLAIN_TYPES = {"AutoField", "BigAutoField", "CharField", "TextField", "ForeignKey", "IntegerField",
                "BigIntegerField", "PositiveIntegerField", "FloatField"}  # fmt: skip
_CONVERTED_TYPES = {"DateTimeField", "BooleanField"}


@functools.cache
def _instance_columns(
    model: type[Model], alias: str
) -> tuple[str, tuple[str, ...], tuple[int, ...], tuple[int, ...]]:
    fields = model._meta.concrete_fields
    refused = [
        field.name for field in fields if field.get_internal_type() not in _PLAIN_TYPES | _CONVERTED_TYPES
    ]
    if refused:
        raise TypeError(f"{model.__name__}'s fields {refused} need the ORM's conversions")
    columns = ", ".join(f"{alias}.{quote(field.column)}" for field in fields)
    datetimes = tuple(i for i, field in enumerate(fields) if field.get_internal_type() == "DateTimeField")
    booleans = tuple(i for i, field in enumerate(fields) if field.get_internal_type() == "BooleanField")
    return columns, tuple(field.attname for field in fields), datetimes, booleans


def fetch_instance(model: type[M], alias: str, rest: str, params: list | tuple) -> M | None:
    """The first `model` instance of `SELECT <its columns> FROM <its table> <alias> <rest>`, or
    None: what `Model.objects.raw` gives for one row, without its per-query introspection."""
    columns, attnames, datetimes, booleans = _instance_columns(model, alias)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {table(model)} {alias} {rest}", params)
        row = cursor.fetchone()
    if row is None:
        return None
    if datetimes or booleans:
        row = list(row)
        for index in datetimes:
            row[index] = aware(row[index])
        for index in booleans:
            row[index] = None if row[index] is None else bool(row[index])
    return model.from_db(connection.alias, attnames, row)
