"""Uploads streamed straight to a file: an MLflow file store's archive (imports), a job's
snapshot. Never held in memory, refused the moment they pass their limit.

An `UploadKind` says where such uploads go and how large they may be; from it come the Django
upload handler (a studio form's multipart file) and the DRF parsers of the studio API (multipart,
or the raw body under any of the kind's media types).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.core.files.uploadhandler import FileUploadHandler
from rest_framework.parsers import BaseParser, MultiPartParser

from tracking.artifacts import CHUNK_SIZE
from tracking.errors import InvalidParameterValue, MlflowError

_FILENAME = re.compile(r'filename="?([^";]+)"?')


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


def parsers_for(kind: UploadKind) -> list[type[BaseParser]]:
    """DRF parsers: multipart (field "file"), and the raw body under each of the kind's media types."""

    class StreamedMultiPartParser(MultiPartParser):
        def parse(self, stream, media_type=None, parser_context=None):
            request = parser_context["request"]
            request.upload_handlers = [StreamedUploadHandler(request._request, kind)]
            return super().parse(stream, media_type, parser_context)

    class RawUploadParser(BaseParser):
        media_type = "application/octet-stream"

        def parse(self, stream, media_type=None, parser_context=None) -> dict:
            request = parser_context["request"]
            if stream is None:
                raise InvalidParameterValue(f"The request has no body: send the {kind.what}.")
            sink = UploadSink(kind)
            try:
                while chunk := stream.read(CHUNK_SIZE):
                    sink.write(chunk)
            except MlflowError:
                raise
            except BaseException:
                sink.discard()
                raise
            disposition = _FILENAME.search(request.META.get("HTTP_CONTENT_DISPOSITION", ""))
            name = request.query_params.get("name") or (
                disposition.group(1) if disposition else kind.default_name
            )
            return {"file": sink.close(name)}

    raw = [RawUploadParser] + [
        type(f"RawUploadParser{index}", (RawUploadParser,), {"media_type": media_type})
        for index, media_type in enumerate(kind.media_types)
    ]
    return [StreamedMultiPartParser, *raw]
