"""A read-only, seekable file over a remote object read by byte ranges.

What callers do with an opened artifact (stream it, serve an HTTP range, read a Parquet footer,
sniff an image's header) needs `read`, `seek` and `tell`, not the whole object: each `read` asks
the store for just the bytes wanted (at least a read-ahead block, so many small reads cost one
request), and nothing larger than one block is ever held in memory.
"""

from __future__ import annotations

import io
from collections.abc import Callable

READ_AHEAD = 1024 * 1024


class RangedReader(io.RawIOBase):
    """`read_range(start, end)` returns the bytes start..end inclusive of an object of `size`."""

    def __init__(self, size: int, read_range: Callable[[int, int], bytes], *, name: str = "") -> None:
        super().__init__()
        self.size, self.name = size, name
        self._read_range = read_range
        self._position = 0
        self._block_start, self._block = 0, b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError(f"cannot seek to {base + offset}, before the start")
        self._position = base + offset
        return self._position

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if self.closed:
            raise ValueError("read of a closed file")
        remaining = self.size - self._position
        if remaining <= 0 or size == 0:
            return b""
        wanted = remaining if size is None or size < 0 else min(size, remaining)
        offset = self._position - self._block_start
        if offset >= 0 and offset + wanted <= len(self._block):
            data = self._block[offset : offset + wanted]
        elif wanted >= READ_AHEAD:
            data = self._read_range(self._position, self._position + wanted - 1)
        else:
            end = min(self._position + READ_AHEAD, self.size) - 1
            self._block_start, self._block = self._position, self._read_range(self._position, end)
            data = self._block[:wanted]
        self._position += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)
