"""Studio's SQLite backend: Django's, with each statement's placeholders converted once per process
and the same statements sent to sqlite3 as Django's own would send."""

from __future__ import annotations

import sqlite3

import pytest
from django.db import connection
from django.db.backends.sqlite3.base import SQLiteCursorWrapper as DjangoCursor

from studio.db_backends.sqlite3 import base

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite backend only")


@pytest.fixture
def cursors():
    raw = sqlite3.connect(":memory:")
    yield raw.cursor(factory=base.SQLiteCursorWrapper), raw.cursor(factory=DjangoCursor)
    raw.close()


@pytest.mark.parametrize(
    "query",
    [
        "SELECT %s, %s",
        "SELECT '%%s' || %s",  # a literal %s, escaped as Django requires
        "SELECT 5 %% 3, %s",  # the modulo operator
        "SELECT 'it''s 100%%', %s",
        'SELECT %s AS "%%s"',
        "INSERT INTO t VALUES " + ", ".join(["(%s, %s, %s)"] * 2000),  # too long to keep
    ],
)
def test_a_statement_is_converted_as_django_converts_it(cursors, query):
    ours, django = cursors

    assert ours.convert_query(query) == django.convert_query(query)
    assert ours.convert_query(query) == django.convert_query(query)  # the kept conversion, again


def test_named_parameters_are_converted_as_django_converts_them(cursors):
    ours, django = cursors
    query = "SELECT %(a)s, %(b)s, 5 %% 2"

    assert ours.convert_query(query, param_names=["a", "b"]) == django.convert_query(
        query, param_names=["a", "b"]
    )
    assert ours.execute(query, {"a": 1, "b": "x"}).fetchone() == (1, "x", 1)


def test_only_statements_short_enough_are_kept():
    base._qmark_style.cache_clear()
    short, long = "SELECT %s", "SELECT %s + %s /* " + "x" * 5000 + " */"
    cursor = sqlite3.connect(":memory:").cursor(factory=base.SQLiteCursorWrapper)

    for _ in range(3):
        assert cursor.execute(short, [1]).fetchone() == (1,)
        assert cursor.execute(long, [1, 2]).fetchone() == (3,)

    assert base._qmark_style.cache_info().currsize == 1
    assert base._qmark_style.cache_info().hits == 2


def test_the_server_uses_it(django_db_blocker):
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        assert isinstance(cursor.cursor, base.SQLiteCursorWrapper)
        cursor.execute("SELECT %s || '%%'", ["100"])
        assert cursor.fetchone() == ("100%",)
