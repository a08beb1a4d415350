"""Django's SQLite backend, with each statement's placeholders converted once per process.

Django writes `%s` placeholders and its SQLite cursor turns them into sqlite3's `?` with a regular
expression on every execution: about 16 µs a statement under the profiler, three statements to a
`log_metric`. Our statements are a few hundred texts, executed again and again; the conversion of each
is kept (`_qmark_style`), and a text too long to be worth keeping is converted as before.
"""

from __future__ import annotations

import functools

from django.db.backends.sqlite3 import base

# A statement longer than this (a batch's VALUES list of a thousand rows) is rare and varied: it is
# converted each time, as Django does, rather than fill the cache.
_LONGEST_KEPT = 4096


@functools.lru_cache(maxsize=1024)
def _qmark_style(query: str) -> str:
    return base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%")


class SQLiteCursorWrapper(base.SQLiteCursorWrapper):
    def convert_query(self, query, *, param_names=None):
        if param_names is None and len(query) <= _LONGEST_KEPT:
            return _qmark_style(query)
        return super().convert_query(query, param_names=param_names)


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name=None):
        return self.connection.cursor(factory=SQLiteCursorWrapper)
