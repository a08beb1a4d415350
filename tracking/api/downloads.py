"""Streaming a stored file over HTTP: whole (sendfile where the server offers it) or a byte range.

Files are whatever people logged, so an answer must never run as a page of our origin: every
download is an attachment (as MLflow's server sends it), types a browser would render actively
(HTML, SVG, XML, scripts) lose their type besides, and every answer carries a sandbox policy that
forbids scripts and plugins anyway. A PDF keeps its type: an attachment is saved, not rendered (the studio's own previews set their own disposition and
policy, and serve HTML from a separate, sandboxed route).
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator
from typing import BinaryIO

from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.utils.http import content_disposition_header

CHUNK = 1024 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
SANDBOX = "sandbox; default-src 'none'"
ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/xsl",
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
        "text/css",
        "application/x-shockwave-flash",
    }
)


# Files MLflow writes without an extension, shown as text like MLflow's server does.
_TEXT_NAMES = frozenset({"mlmodel", "mlproject"})
# Text formats `mimetypes` does not know (or names `application/...`), answered as text/plain as
# MLflow's server does; XML and JavaScript stay binary since our answers never carry them as text.
_TEXT_EXTENSIONS = frozenset(
    {".txt", ".log", ".err", ".cfg", ".conf", ".cnf", ".cf", ".ini", ".properties", ".prop"}
    | {".hocon", ".toml", ".yaml", ".yml", ".json", ".py", ".py3", ".csv", ".tsv", ".md", ".rst"}
    | {".ipynb"}
)
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


def inert_content_type(name: str) -> str:
    """The type to answer with: the guessed one, unless a browser would render it actively."""
    base = name.rsplit("/", 1)[-1]
    stem, dot, extension = base.rpartition(".")
    if base.lower() in _TEXT_NAMES or (dot and stem and f".{extension}" in _TEXT_EXTENSIONS):
        return "text/plain"
    guessed = mimetypes.guess_type(base)[0] or "application/octet-stream"
    if guessed in ACTIVE_TYPES or guessed.endswith("+xml"):
        return "application/octet-stream"
    return guessed


def attachment_disposition(name: str) -> str:
    """`attachment; filename=name` bare when the name is an HTTP token (as MLflow's server writes
    it); otherwise quoted, with RFC 5987's `filename*` for a name that is not ASCII. Control
    characters, quotes and backslashes become `_`, so a name never ends or splits the header."""
    if _TOKEN.match(name):
        return f"attachment; filename={name}"
    safe = "".join("_" if ch in '"\\' or ord(ch) < 32 or ord(ch) == 127 else ch for ch in name)
    return content_disposition_header(True, safe)


def file_response(request: HttpRequest, handle: BinaryIO, size: int, name: str) -> HttpResponse:
    content_type = inert_content_type(name)
    requested = _requested_range(request.headers.get("Range"), size)
    if requested is None:
        response = FileResponse(handle, content_type=content_type)
        response["Content-Length"] = str(size)
    elif requested == "unsatisfiable":
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
    else:
        start, end = requested
        handle.seek(start)
        response = StreamingHttpResponse(
            _read(handle, end - start + 1), status=206, content_type=content_type
        )
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    response["Content-Security-Policy"] = SANDBOX
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = attachment_disposition(name)
    return response


def bytes_response(data: bytes, name: str) -> HttpResponse:
    """Bytes made here (not a stored file) sent as the download `name`, with a file's headers."""
    response = HttpResponse(data, content_type=inert_content_type(name))
    response["Content-Security-Policy"] = SANDBOX
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = attachment_disposition(name)
    return response


def _requested_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(first, last) byte of a single range; None for the whole file; "unsatisfiable" otherwise.

    Several ranges in one header are answered with the whole file, which HTTP allows.
    """
    found = _RANGE.match(header.strip()) if header else None
    if found is None:
        return None
    first, last = found.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last)
        if length == 0:
            return "unsatisfiable"
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        return "unsatisfiable"
    return start, end


def _read(handle: BinaryIO, remaining: int) -> Iterator[bytes]:
    try:
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()


def redirect_to_store(url: str) -> HttpResponse:
    """A 302 to a signed URL of the artifact store, which serves the bytes (ranges included) as an
    attachment; the URL expires soon, so nothing may cache the redirect."""
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
