"""Parquet previews: the schema and the first rows, read from the footer and the first row group only."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from studio.artifact_previews import CELL_CHARS
from studio.parquet_preview import PARQUET_ROWS, ParquetError, cell_text, preview_parquet
from tests.artifact_samples import parquet_bytes
from tests.hostile import FUZZ


class CountingFile(io.BytesIO):
    bytes_read = 0

    def read(self, size=-1):
        data = super().read(size)
        self.bytes_read += len(data)
        return data

    def readinto(self, buffer):
        count = super().readinto(buffer)
        self.bytes_read += count
        return count


def test_it_shows_the_schema_with_types_and_nullability():
    preview = preview_parquet(io.BytesIO(parquet_bytes()))
    assert [(c.name, c.type, c.nullable) for c in preview.columns] == [
        ("id", "int64", False),
        ("species", "string", True),
        ("sepal_length", "double", True),
        ("measured_at", "timestamp[us, tz=UTC]", True),
        ("tags", "list<element: string>", True),
        ("raw", "binary", True),
        ("notes", "string", True),
    ]
    assert (preview.total_rows, preview.row_groups, preview.more_columns) == (100, 3, 0)
    assert preview.created_by.startswith("parquet-cpp-arrow")


def test_it_shows_the_first_rows_as_text_a_person_reads():
    preview = preview_parquet(io.BytesIO(parquet_bytes()))
    assert len(preview.rows) == PARQUET_ROWS and preview.more_rows
    first, second = preview.rows[0], preview.rows[1]
    assert first[:4] == ["0", "setosa", "4.3", "2026-01-01T00:00:00+00:00"]
    assert first[4] == '["train", "holdout"]' and second[4] == '["train"]'
    assert first[5] == "b'\\x00\\x00\\x00' (3 bytes)"
    assert first[6] == "x" * CELL_CHARS + "…" and second[6] == "null"


def test_a_small_file_shows_all_its_rows():
    preview = preview_parquet(io.BytesIO(parquet_bytes(rows=5)))
    assert len(preview.rows) == 5 and not preview.more_rows


def test_an_empty_table_has_its_schema_and_no_rows():
    buffer = io.BytesIO()
    pq.write_table(pa.table({"a": pa.array([], pa.int32())}), buffer)
    preview = preview_parquet(io.BytesIO(buffer.getvalue()))
    assert [c.name for c in preview.columns] == ["a"] and preview.rows == [] and preview.total_rows == 0


def test_wide_tables_show_their_first_hundred_columns():
    buffer = io.BytesIO()
    pq.write_table(pa.table({f"c{i}": [i] for i in range(130)}), buffer)
    preview = preview_parquet(io.BytesIO(buffer.getvalue()))
    assert len(preview.columns) == 100 and preview.more_columns == 30 and len(preview.rows[0]) == 100


def test_nested_map_and_decimal_values_are_written_sensibly():
    from decimal import Decimal

    table = pa.table(
        {
            "point": pa.array([{"x": 1, "y": "a"}]),
            "counts": pa.array([[("a", 1)]], pa.map_(pa.string(), pa.int64())),
            "price": pa.array([Decimal("1.50")], pa.decimal128(5, 2)),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    assert preview_parquet(io.BytesIO(buffer.getvalue())).rows == [
        ['{"x": 1, "y": "a"}', '[["a", 1]]', "1.50"]
    ]


def test_a_large_file_is_previewed_from_its_footer_and_first_pages():
    import numpy

    # 1.5 million rows of incompressible doubles in one row group: about 12 MB.
    values = numpy.random.default_rng(1).random(1_500_000)
    buffer = io.BytesIO()
    pq.write_table(pa.table({"v": values}), buffer, row_group_size=2_000_000, data_page_size=64 * 1024)
    handle = CountingFile(buffer.getvalue())
    preview = preview_parquet(handle)
    assert preview.total_rows == 1_500_000 and len(preview.rows) == PARQUET_ROWS
    assert len(buffer.getvalue()) > 10_000_000
    assert handle.bytes_read < 2_000_000


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "too short"),
        (b"id,name\n1,a\n", "not a Parquet file"),
        (parquet_bytes()[:-100], "not a Parquet file"),
        (b"PAR1" + b"\x00" * 40 + (10**9).to_bytes(4, "little") + b"PAR1", "cannot be"),
        (b"PAR1" + b"\x07" * 40 + (20).to_bytes(4, "little") + b"PAR1", "cannot be read"),
    ],
)
def test_corrupt_or_truncated_files_are_refused_with_a_reason(data, message):
    with pytest.raises(ParquetError, match=message):
        preview_parquet(io.BytesIO(data))


def test_a_file_whose_pages_are_damaged_says_so():
    data = bytearray(parquet_bytes())
    data[200:1200] = b"\xff" * 1000  # the first column chunks, after the leading magic
    with pytest.raises(ParquetError, match="cannot be read"):
        preview_parquet(io.BytesIO(bytes(data)))


def test_cell_text_of_plain_values():
    assert cell_text(None) == "null"
    assert cell_text(True) == "True"
    assert cell_text(b"\x01" * 1000).endswith("… (1000 bytes)")


@FUZZ
@given(
    body=st.binary(max_size=400),
    footer=st.integers(min_value=0, max_value=500),
    damage=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), max_size=8),
)
def test_any_damaged_file_is_previewed_or_refused_with_a_reason(body, footer, damage):
    forged = b"PAR1" + body + footer.to_bytes(4, "little") + b"PAR1"
    real = bytearray(SMALL)
    for position, value in damage:
        real[position % len(real)] = value
    for data in (forged, bytes(real)):
        try:
            preview_parquet(io.BytesIO(data))
        except ParquetError as error:
            assert str(error)


SMALL = parquet_bytes(rows=3)
