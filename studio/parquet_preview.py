"""Parquet files as a preview: the schema (names, types, nullability) and the first rows.

Only what is needed is read, so a file of many gigabytes costs what its footer and the first
pages of its first row group cost:

1. the last 8 bytes give the footer's length and the magic; a file that is not Parquet, or whose
   footer is absurdly large, is refused before pyarrow reads anything;
2. the footer gives the schema, the row count and the row groups;
3. one batch of PARQUET_ROWS rows of the first PARQUET_COLUMNS columns is read from the first row
   group through a small read buffer (no pre-buffering of whole column chunks).

Cells are written as text a person reads (timestamps in ISO form, bytes as a short escaped
prefix, nested values as compact JSON-like text) and cut to CELL_CHARS characters.
"""

from __future__ import annotations

import datetime
import json
import os
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, BinaryIO

from studio.artifact_previews import CELL_CHARS, TABLE_COLUMNS, cut_cell

if TYPE_CHECKING:
    import pyarrow as pa

# pyarrow (0.3-0.4 s to import) is imported with the first Parquet preview, not by every web
# process as it starts.

PARQUET_ROWS = 20
MAX_FOOTER_BYTES = 16 * 1024**2
READ_BUFFER_BYTES = 256 * 1024
MAGIC = b"PAR1"


class ParquetError(ValueError):
    """The file cannot be previewed as Parquet; the message says why, for the page."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    nullable: bool


@dataclass(slots=True)
class ParquetPreview:
    columns: list[Column]  # the whole schema, up to TABLE_COLUMNS columns
    rows: list[list[str]]  # the first rows of those columns
    total_rows: int
    row_groups: int
    more_columns: int  # columns of the schema not shown
    created_by: str = ""

    @property
    def more_rows(self) -> bool:
        return self.total_rows > len(self.rows)


def preview_parquet(handle: BinaryIO, rows: int = PARQUET_ROWS) -> ParquetPreview:
    """The schema and first `rows` rows of the Parquet file open in `handle` (seekable)."""
    _check_footer(handle)
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(handle, buffer_size=READ_BUFFER_BYTES, pre_buffer=False)
        metadata = parquet.metadata
        schema = parquet.schema_arrow
    except (pa.ArrowException, OSError, ValueError, TypeError) as error:
        raise ParquetError(f"This Parquet file cannot be read: {_reason(error)}") from None
    shown = list(schema)[:TABLE_COLUMNS]
    columns = [Column(field.name, str(field.type), field.nullable) for field in shown]
    preview = ParquetPreview(
        columns,
        [],
        total_rows=metadata.num_rows,
        row_groups=metadata.num_row_groups,
        more_columns=max(len(schema) - len(shown), 0),
        created_by=metadata.created_by or "",
    )
    if metadata.num_row_groups == 0 or not shown or rows <= 0:
        return preview
    try:
        batches = parquet.iter_batches(
            batch_size=rows, row_groups=[0], columns=[field.name for field in shown], use_threads=False
        )
        batch = next(batches, None)
    except (pa.ArrowException, OSError, ValueError, TypeError) as error:
        raise ParquetError(f"The rows of this Parquet file cannot be read: {_reason(error)}") from None
    if batch is not None:
        texts = [_column_texts(batch.column(index)) for index in range(batch.num_columns)]
        preview.rows = [list(row) for row in zip(*texts, strict=True)][:rows]
    return preview


def _check_footer(handle: BinaryIO) -> None:
    try:
        size = handle.seek(0, os.SEEK_END)
        if size < 12:
            raise ParquetError("This file is too short to be a Parquet file.")
        handle.seek(size - 8)
        tail = handle.read(8)
        handle.seek(0)
    except OSError as error:
        raise ParquetError(f"This file cannot be read: {_reason(error)}") from None
    if tail[4:] != MAGIC:
        raise ParquetError(
            "This is not a Parquet file (its last bytes are not the Parquet magic), or it was cut short."
        )
    footer = int.from_bytes(tail[:4], "little")
    if footer > min(MAX_FOOTER_BYTES, size - 12):
        raise ParquetError(f"This Parquet file's footer says it is {footer} bytes long, which it cannot be.")


def _column_texts(column: pa.Array) -> list[str]:
    import pyarrow as pa

    try:
        values = column.to_pylist()
    except (pa.ArrowException, ValueError, OverflowError, TypeError):
        # Values Python cannot hold (timestamps past year 9999, say): Arrow's own text of them.
        try:
            return [cut_cell(str(value)) for value in column.cast(pa.string()).to_pylist()]
        except (pa.ArrowException, ValueError, TypeError):
            return ["?"] * len(column)
    return [cut_cell(cell_text(value)) for value in values]


def cell_text(value: Any) -> str:
    """One value as a table shows it."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        shown = value[: CELL_CHARS // 4]
        return repr(shown)[:CELL_CHARS] + ("…" if len(value) > len(shown) else "") + f" ({len(value)} bytes)"
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, float | int | Decimal | bool | datetime.timedelta):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> str:
    if isinstance(value, bytes):
        return value[:64].hex() + ("…" if len(value) > 64 else "")
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _reason(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
