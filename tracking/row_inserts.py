"""PostgreSQL writes of one statement: a row's INSERT as a piece of a larger statement.

A write that takes several statements needs a transaction (BEGIN, the statements, COMMIT: a
round trip each). On PostgreSQL, data-modifying CTEs (`WITH a AS (INSERT ...) INSERT ...`) make
such a write one statement, atomic by itself. Django builds the row's columns and values here
(defaults, conversions, `pre_save`) exactly as `Model.save()` would; the caller places them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Field, Model
from django.db.models.sql import InsertQuery


@dataclass(frozen=True)
class RowInsert:
    fields: list[Field]  # every concrete field but the primary key, which the database numbers
    placeholders: list[str]  # one per field
    params: list  # one per field

    def columns(self) -> str:
        return ", ".join(connection.ops.quote_name(field.column) for field in self.fields)

    def index_of(self, name: str) -> int:
        return next(index for index, field in enumerate(self.fields) if field.name == name)


def row_insert(instance: Model) -> RowInsert:
    """The columns, placeholders and parameters of `instance`'s INSERT."""
    model = type(instance)
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    query = InsertQuery(model)
    query.insert_values(fields, [instance])
    compiler = query.get_compiler(connection=connection)
    values = [compiler.prepare_value(field, compiler.pre_save_val(field, instance)) for field in fields]
    (placeholders,), (params,) = compiler.assemble_as_sql(fields, [values])
    return RowInsert(fields, list(placeholders), list(params))
