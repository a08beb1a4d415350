"""The studio API's parsers for uploads of a kind (`tracking.uploads`): a multipart form whose
field "file" is streamed to its place, or the raw body under any of the kind's media types."""

from __future__ import annotations

import re

from rest_framework.parsers import BaseParser, MultiPartParser

from tracking.artifacts import CHUNK_SIZE
from tracking.errors import InvalidParameterValue, MlflowError
from tracking.uploads import StreamedUploadHandler, UploadKind, UploadSink

_FILENAME = re.compile(r'filename="?([^";]+)"?')


def parsers_for(kind: UploadKind) -> list[type[BaseParser]]:
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
