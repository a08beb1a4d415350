"""The artifact store interface, its errors, and the streaming helpers every backend shares.

Like Django's `Storage`, the public methods live here and do the common work (validating the path
through `clean_path`, turning an upload into bounded chunks, enforcing `max_bytes`); a backend
implements the underscored methods and only ever receives clean paths.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Self

from tracking.artifacts.paths import clean_path
from tracking.errors import (
    InvalidParameterValue,
    NotImplementedRpc,
    RequestTooLarge,
    ResourceDoesNotExist,
    TemporarilyUnavailable,
)

CHUNK_SIZE = 1024 * 1024


class ArtifactNotFound(ResourceDoesNotExist):
    pass


class ArtifactIsADirectory(InvalidParameterValue):
    pass


class ArtifactTooLarge(RequestTooLarge):
    pass


class ArtifactReplaced(TemporarilyUnavailable):
    """The file was replaced while it was read: its ranges would mix two versions. Reading it
    again from the start reads the new one (a reader does; a client told 503 may)."""


class DirectTransfersUnsupported(NotImplementedRpc):
    """This store cannot hand out URLs for the client to transfer with directly (the local disk).

    The message is the one MLflow's client recognises on a 501 from `mpu/create`, after which it
    uploads the file through the proxy instead."""

    def __init__(
        self, message: str = "Multipart upload is not supported for the current artifact repository"
    ):
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class PartUrl:
    """Where the client PUTs one part of a multipart upload, and the headers it must send."""

    part_number: int
    url: str
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class UploadedPart:
    """A part the client uploaded, as it reports it to `complete`."""

    part_number: int
    etag: str


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str  # POSIX, relative to the store root
    is_dir: bool
    file_size: int | None  # None for directories


class ArtifactStore(ABC):
    """Files under one root, addressed by relative POSIX paths; "" is the root itself."""

    @classmethod
    def from_uri(cls, uri: str) -> Self:
        """The store for a URI of this class's scheme; the registry calls this."""
        return cls(uri)

    def list(self, prefix: str = "") -> list[FileInfo]:
        """The direct children of `prefix`, sorted by path, with paths relative to the store root.

        A missing prefix, or one that names a file, lists as [] (as MLflow answers).
        """
        return self._list(clean_path(prefix, allow_empty=True))

    def open(self, path: str) -> BinaryIO:
        return self._open_sized(clean_path(path))[0]

    def open_sized(self, path: str) -> tuple[BinaryIO, int]:
        """An open file and the size of the very version opened: a file replaced between two
        separate look-ups would answer one version's size beside the other's bytes."""
        return self._open_sized(clean_path(path))

    def size(self, path: str) -> int:
        return self._size(clean_path(path))

    def is_dir(self, path: str) -> bool:
        return self._is_dir(clean_path(path, allow_empty=True))

    def exists(self, path: str) -> bool:
        return self._exists(clean_path(path, allow_empty=True))

    def save(self, path: str, stream: BinaryIO | Iterable[bytes], *, max_bytes: int | None = None) -> int:
        """Write `stream` to `path` chunk by chunk, atomically; returns the bytes written.

        `stream` is a file-like object with `.read(n)` or an iterable of bytes chunks. Past
        `max_bytes` the upload stops with ArtifactTooLarge and leaves nothing behind.
        """
        cleaned = clean_path(path, file=True)
        return self._save(cleaned, _limited(cleaned, iter_chunks(stream), max_bytes))

    def delete(self, path: str) -> int:
        """Delete a file, or a folder and everything under it; returns the bytes freed (0 if missing)."""
        return self._delete(clean_path(path))

    def total_size(self, prefix: str = "") -> int:
        return sum(info.file_size or 0 for info in self.walk(prefix))

    def walk(self, prefix: str = "") -> Iterator[FileInfo]:
        """Every file under `prefix`, recursively (a file prefix yields itself); no directories."""
        return self._walk(clean_path(prefix, allow_empty=True))

    def within(self, prefix: str) -> ArtifactStore:
        """The store of the folder `prefix`, whose paths (links included) cannot lead out of it."""
        return self._within(clean_path(prefix))

    def local_path(self, path: str) -> Path | None:
        """The path on this machine's disk (so the web server can use sendfile); None if remote."""
        return self._local_path(clean_path(path, allow_empty=True))

    # --- Direct transfers: the client talks to the store itself, with short-lived signed URLs ----

    supports_direct_transfers = False

    def presigned_download_url(self, path: str, *, seconds: int, filename: str | None = None) -> str | None:
        """A URL that reads the file `path` without credentials for `seconds`, or None where the
        store has no such URLs (the caller then streams the file itself). `filename`, if given,
        is the name a browser saves it under (an attachment)."""
        if not self.supports_direct_transfers:
            return None
        return self._presigned_download_url(clean_path(path, file=True), seconds, filename)

    def start_multipart(self, path: str, parts: int, *, seconds: int) -> tuple[str, list[PartUrl]]:
        """Begins a multipart upload to `path`: its upload id, and a signed URL per part
        (numbered from 1) valid for `seconds`. Raises DirectTransfersUnsupported on a store without."""
        if not self.supports_direct_transfers:
            raise DirectTransfersUnsupported()
        return self._start_multipart(clean_path(path, file=True), parts, seconds)

    def complete_multipart(self, path: str, upload_id: str, parts: list[UploadedPart]) -> None:
        """Assembles the uploaded parts into the file `path`, which appears whole or not at all."""
        if not self.supports_direct_transfers:
            raise DirectTransfersUnsupported()
        self._complete_multipart(clean_path(path, file=True), upload_id, parts)

    def abort_multipart(self, path: str, upload_id: str) -> None:
        """Drops an unfinished multipart upload and the parts sent so far."""
        if not self.supports_direct_transfers:
            raise DirectTransfersUnsupported()
        self._abort_multipart(clean_path(path, file=True), upload_id)

    @abstractmethod
    def _within(self, prefix: str) -> ArtifactStore: ...

    @abstractmethod
    def _list(self, prefix: str) -> list[FileInfo]: ...

    @abstractmethod
    def _open_sized(self, path: str) -> tuple[BinaryIO, int]: ...

    @abstractmethod
    def _size(self, path: str) -> int: ...

    @abstractmethod
    def _is_dir(self, path: str) -> bool: ...

    @abstractmethod
    def _exists(self, path: str) -> bool: ...

    @abstractmethod
    def _save(self, path: str, chunks: Iterator[bytes]) -> int:
        """Consume `chunks`; if they raise, leave nothing under `path` and re-raise."""

    @abstractmethod
    def _delete(self, path: str) -> int: ...

    @abstractmethod
    def _walk(self, prefix: str) -> Iterator[FileInfo]: ...

    def _local_path(self, path: str) -> Path | None:
        return None

    # A store that sets supports_direct_transfers implements these four.
    def _presigned_download_url(self, path: str, seconds: int, filename: str | None) -> str:
        raise DirectTransfersUnsupported()

    def _start_multipart(self, path: str, parts: int, seconds: int) -> tuple[str, list[PartUrl]]:
        raise DirectTransfersUnsupported()

    def _complete_multipart(self, path: str, upload_id: str, parts: list[UploadedPart]) -> None:
        raise DirectTransfersUnsupported()

    def _abort_multipart(self, path: str, upload_id: str) -> None:
        raise DirectTransfersUnsupported()


def iter_chunks(stream: BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
    """Non-empty chunks: CHUNK_SIZE reads from a file-like object, or an iterable's chunks as they come.

    A stream with `readinto` (an upload's body, a file) fills a new buffer per chunk, which the
    consumer may keep: one copy fewer than `read`, which builds a bytes object and its pieces.
    Every chunk is full but the last, so a store writes CHUNK_SIZE at a time whatever the source.
    """
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        try:
            chunk = _fill(readinto)
        except (NotImplementedError, io.UnsupportedOperation):
            pass  # a raw stream that implements read() only: io.RawIOBase has a readinto that fails
        else:
            while chunk:
                yield chunk
                if len(chunk) < CHUNK_SIZE:
                    return
                chunk = _fill(readinto)
            return
    read = getattr(stream, "read", None)
    if read is not None:
        # A WSGI input answers b"" at its end; a non-blocking reader with nothing left may say None.
        while chunk := read(CHUNK_SIZE):
            yield bytes(chunk)
        return
    for chunk in stream:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(f"an upload must be made of bytes, not {type(chunk).__name__}")
        if chunk:
            yield bytes(chunk)


def _fill(readinto) -> bytearray:
    """Up to CHUNK_SIZE bytes from `readinto`, fewer only at the end of the stream."""
    chunk = bytearray(CHUNK_SIZE)
    filled = 0
    with memoryview(chunk) as view:
        # A non-blocking reader with nothing left may say None, as read() may.
        while filled < CHUNK_SIZE and (count := readinto(view[filled:])):
            filled += count
    del chunk[filled:]
    return chunk


def _limited(path: str, chunks: Iterator[bytes], max_bytes: int | None) -> Iterator[bytes]:
    if max_bytes is None:
        yield from chunks
        return
    total = 0
    for chunk in chunks:
        total += len(chunk)
        # Checked before the chunk is handed on, so nothing past the limit is ever written.
        if total > max_bytes:
            raise ArtifactTooLarge(f"Artifact '{path}' is larger than the limit of {max_bytes} bytes.")
        yield chunk
