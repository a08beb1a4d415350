"""Uploads streamed straight to a file: an MLflow file store's archive (imports), a job's
snapshot. Never held in memory, refused the moment they pass their limit.

An `UploadKind` says where such uploads go and how large they may be; from it come the Django
upload handler (a studio form's multipart file) and the studio API's parsers (`studio.api.uploads`).
The two kinds are here: ARCHIVE (an import's) and SNAPSHOT (a job's).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler

from tracking.errors import MlflowError, RequestTooLarge


@dataclass(frozen=True)
class Upload:
    path: Path
    name: str
    size: int


@dataclass(frozen=True)
class UploadKind:
    what: str  # "archive", "snapshot": for messages
    suffix: str
    default_name: str
    folder: Callable[[], Path]  # read from settings when an upload starts (tests change them)
    limit: Callable[[], int]
    too_large: Callable[[], MlflowError]
    media_types: tuple[str, ...]


class UploadSink:
    """A file being written under the kind's folder that refuses to grow past its limit."""

    def __init__(self, kind: UploadKind) -> None:
        self.kind = kind
        folder = kind.folder()
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{secrets.token_hex(16)}{kind.suffix}"
        self.handle = open(self.path, "xb")  # noqa: SIM115 - closed by close() or discard()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.kind.limit():
            self.discard()
            raise self.kind.too_large()
        self.handle.write(chunk)

    def close(self, name: str) -> Upload:
        self.handle.close()
        return Upload(self.path, os.path.basename(name)[:200] or self.kind.default_name, self.size)

    def discard(self) -> None:
        self.handle.close()
        self.path.unlink(missing_ok=True)


class StreamedUploadHandler(FileUploadHandler):
    """Writes a multipart file straight to its place (no temporary copy)."""

    def __init__(self, request, kind: UploadKind) -> None:
        super().__init__(request)
        self.kind = kind

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.sink = UploadSink(self.kind)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.sink.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> Upload:
        return self.sink.close(self.file_name or self.kind.default_name)

    def upload_interrupted(self) -> None:
        if hasattr(self, "sink"):
            self.sink.discard()


def _archive_too_large() -> RequestTooLarge:
    return RequestTooLarge(
        f"The archive is larger than {settings.IMPORT_MAX_ARCHIVE_BYTES} bytes (STUDIO_IMPORT_MAX_ARCHIVE_BYTES)."
    )


ARCHIVE = UploadKind(
    what="archive",
    suffix=".archive",
    default_name="archive",
    folder=lambda: Path(settings.IMPORTS_DIR) / "uploads",
    limit=lambda: settings.IMPORT_MAX_ARCHIVE_BYTES,
    too_large=_archive_too_large,
    media_types=(
        "application/zip",
        "application/x-zip-compressed",
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-gtar",
        "application/x-compressed-tar",
    ),
)


def _snapshot_too_large() -> RequestTooLarge:
    return RequestTooLarge(
        f"The snapshot is larger than {settings.JOB_MAX_SNAPSHOT_BYTES} bytes (STUDIO_JOB_MAX_SNAPSHOT_BYTES). "
        "Leave data and outputs out of the folder (a .gitignore is honoured when zipping)."
    )


SNAPSHOT = UploadKind(
    what="snapshot (a .zip)",
    suffix=".zip",
    default_name="snapshot.zip",
    folder=lambda: Path(settings.JOBS_DIR) / "uploads",
    limit=lambda: settings.JOB_MAX_SNAPSHOT_BYTES,
    too_large=_snapshot_too_large,
    media_types=("application/zip", "application/x-zip-compressed"),
)
