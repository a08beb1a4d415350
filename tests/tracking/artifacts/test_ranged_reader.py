"""A remote object read as a seekable file: every read asks for a range, and small reads share one."""

from __future__ import annotations

import io

import pytest

from tracking.artifacts.ranged import READ_AHEAD, RangedReader

DATA = bytes(range(256)) * (3 * READ_AHEAD // 256 + 7)


def reader() -> tuple[RangedReader, list[tuple[int, int]]]:
    asked: list[tuple[int, int]] = []

    def read_range(start: int, end: int) -> bytes:
        asked.append((start, end))
        return DATA[start : end + 1]

    return RangedReader(len(DATA), read_range, name="blob"), asked


def test_reads_follow_the_object_to_its_end():
    file, _ = reader()
    chunks = []
    while chunk := file.read(300_000):
        chunks.append(chunk)
    assert b"".join(chunks) == DATA and file.read() == b""


def test_small_reads_share_one_read_ahead_request():
    file, asked = reader()
    assert file.read(4) == DATA[:4] and file.read(10) == DATA[4:14]
    assert asked == [(0, READ_AHEAD - 1)]


def test_seeking_from_the_end_reads_a_footer_alone():
    file, asked = reader()
    file.seek(-8, io.SEEK_END)
    assert file.read() == DATA[-8:]
    assert asked == [(len(DATA) - 8, len(DATA) - 1)]
    assert file.tell() == len(DATA)


def test_a_large_read_is_one_request_of_its_own_size():
    file, asked = reader()
    file.seek(10)
    assert file.read(2 * READ_AHEAD) == DATA[10 : 10 + 2 * READ_AHEAD]
    assert asked == [(10, 10 + 2 * READ_AHEAD - 1)]


def test_buffered_wrappers_and_readinto_work():
    file, _ = reader()
    assert io.BufferedReader(file).read(1000) == DATA[:1000]


def test_a_seek_before_the_start_and_a_read_after_close_are_refused():
    file, _ = reader()
    with pytest.raises(ValueError):
        file.seek(-1)
    file.close()
    with pytest.raises(ValueError):
        file.read(1)
