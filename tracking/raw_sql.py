"""Plain SQL for the hot read paths, where building ORM queries and instances would cost more than
the database does: quoting, fetching, and datetimes as the ORM would hand them."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import connection


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def table(model) -> str:
    return quote(model._meta.db_table)


def fetch_rows(sql: str, params: list | tuple) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def aware(moment: datetime | None) -> datetime | None:
    """A datetime column of a raw row made aware, as the ORM would: SQLite hands plain SQL naive
    datetimes (stored in UTC), PostgreSQL aware ones."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
