"""The one place that validates relative artifact paths.

Every store method passes its path through `clean_path` before touching storage, so a backend only
ever sees a normalised POSIX path relative to its root: no "..", no absolute or drive-letter paths,
no backslashes, no control characters, and nothing that turns into one of those after one more
round of percent-decoding (a proxy or a client may have decoded once already, a careless one may
decode again).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from tracking.errors import InvalidParameterValue

MAX_PATH_LENGTH = 1024
# The common file-name limit (NAME_MAX) of Linux and macOS file systems, in UTF-8 bytes.
MAX_SEGMENT_BYTES = 255

_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
# Unicode's control characters (category Cc, a fixed set) and surrogates (Cs): one regular
# expression rather than a category look-up per character, on every artifact path.
_CONTROL_OR_SURROGATE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_path(path: str, *, allow_empty: bool = False, file: bool = False) -> str:
    """A normalised relative POSIX path ("a/b/c.txt"), or InvalidParameterValue saying what is wrong.

    `allow_empty` accepts "" (or "." or "./") as the store root and returns "". `file` is for paths
    that name a file to write: the root and a trailing "/" are refused.
    """
    if not isinstance(path, str):
        raise InvalidParameterValue(f"Invalid path {path!r}: expected a string.")
    if len(path) > MAX_PATH_LENGTH:
        raise _invalid(path, f"longer than {MAX_PATH_LENGTH} characters ({len(path)}).")
    _refuse_traversal(path, path, "")
    decoded = unquote(path)
    if decoded != path:
        _refuse_traversal(path, decoded, " once percent-decoded")

    segments = path.split("/")
    if len(segments) > 1 and segments[-1] == "":
        if file:
            raise _invalid(path, "a file path must not end with '/'.")
        segments.pop()
    if path and "" in segments:
        raise _invalid(path, "empty segments ('//') are not allowed.")
    for segment in segments:
        if len(segment.encode()) > MAX_SEGMENT_BYTES:
            raise _invalid(path, f"a name is longer than {MAX_SEGMENT_BYTES} bytes.")

    cleaned = "/".join(segment for segment in segments if segment not in ("", "."))
    if not cleaned and (file or not allow_empty):
        raise _invalid(path, "the path must name a file." if file else "the path must not be empty.")
    return cleaned


def _refuse_traversal(original: str, candidate: str, how: str) -> None:
    """Refuse anything in `candidate` that could reach outside the root or confuse a file system,
    in MLflow's exact words: "Invalid path", nothing more (clients compare the message)."""
    if (
        _CONTROL_OR_SURROGATE.search(candidate)
        or "\\" in candidate
        or candidate.startswith("/")
        or _DRIVE_LETTER.match(candidate)
        or ".." in candidate.split("/")
    ):
        raise InvalidParameterValue("Invalid path")


def _invalid(path: str, reason: str) -> InvalidParameterValue:
    # Long or hostile paths are cut short so the message stays readable in a log line.
    shown = path if len(path) <= 200 else path[:200] + "..."
    return InvalidParameterValue(f"Invalid path {shown!r}: {reason}")
