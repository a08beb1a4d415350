"""Reading metric files: whole blocks of plain lines at once, any other block line by line."""

from __future__ import annotations

import math

import pytest

from tracking.ingest import reader
from tracking.ingest.files import SourceFolder
from tracking.services.metric_points import MetricPoint


@pytest.fixture
def source(tmp_path):
    problems = []
    folder = SourceFolder(tmp_path, lambda file, message: problems.append((file, message)))
    folder.problems = problems
    return folder


@pytest.mark.parametrize("block_bytes", [40, 1024 * 1024], ids=["small blocks", "one block"])
def test_blocks_of_plain_lines_and_odd_lines_read_the_same(source, tmp_path, monkeypatch, block_bytes):
    monkeypatch.setattr(reader, "_BLOCK_BYTES", block_bytes)
    lines = [f"{1000 + step} {step / 4} {step}\n" for step in range(40)]
    lines[7] = "1007 nan 7\n"
    lines[20] = "1020 0.5 20 train 4f3a\n"  # with its dataset: that block goes line by line
    lines[33] = "1033 oops 33\n"
    (tmp_path / "loss").write_text("".join(lines))

    batches = list(reader.read_points(source, tmp_path / "loss", "loss", batch=16))

    points = [point for batch in batches for point in batch]
    assert [len(batch) for batch in batches] == [16, 16, 7]
    assert [point.step for point in points] == [step for step in range(40) if step != 33]
    assert points[20] == MetricPoint("loss", 0.5, 1020, 20, None, "train", "4f3a")
    assert math.isnan(points[7].value) and points[8] == MetricPoint("loss", 2.0, 1008, 8)
    assert source.problems == [
        ("loss", "line 34 skipped: '1033 oops 33' (could not convert string to float: b'oops')")
    ]


def test_a_step_beyond_64_bits_is_reported_not_stored(source, tmp_path):
    (tmp_path / "m").write_text(f"1 0.5 0\n2 0.5 {2**63}\n")

    points = [point for batch in reader.read_points(source, tmp_path / "m", "m", batch=10) for point in batch]

    assert [point.step for point in points] == [0]
    assert source.problems[0][1].startswith("line 2 skipped") and "64 bits" in source.problems[0][1]
