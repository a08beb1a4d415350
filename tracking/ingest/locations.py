"""Where imported things live here: artifact URIs of the file store turned into this server's.

A file store writes absolute `file://` URIs of the machine it ran on (`file:///home/ana/proj/
mlruns/1/<run>/artifacts`), which mean nothing once the folder has moved. What counts is the part
after the experiment folder: a run's `<run id>/artifacts/...` or a logged model's
`models/<model id>/artifacts/...`. Those files are copied to the same proxy path under the
experiment's number here, so the URI becomes `mlflow-artifacts:/<number>/...`. Artifacts on
other stores (`s3://...`) stay where they are and keep their URI.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import unquote, urlsplit

from django.utils import timezone

from tracking.services.artifacts import PROXY_SCHEME, proxy_path
from tracking.times import MAX_MS, ms_to_datetime

LOCAL_SCHEMES = ("", "file")


def is_local(uri: str) -> bool:
    """True for a path or file URI (files that came with the folder), and for an empty URI."""
    scheme = urlsplit(uri).scheme.lower()
    return len(scheme) <= 1 or scheme in LOCAL_SCHEMES  # one letter: a Windows drive


def translate(uri: str, numbers: dict[str, int]) -> str | None:
    """This server's URI for a location inside the imported store, or None if it is elsewhere.

    `numbers` maps the store's experiment ids to the experiments' numbers here.
    """
    if uri.startswith(PROXY_SCHEME):
        path = proxy_path(uri) or ""
    elif is_local(uri):
        path = unquote(urlsplit(uri).path) if uri.lower().startswith("file:") else uri
    else:
        return None
    segments = [segment for segment in path.replace("\\", "/").split("/") if segment]
    # The last experiment folder followed by <run>/artifacts or models/<id>/artifacts.
    for index in range(len(segments) - 3, -1, -1):
        number = numbers.get(segments[index])
        if number is None:
            continue
        rest = segments[index + 1 :]
        if rest[1] == "artifacts" or (rest[0] == "models" and len(rest) > 2 and rest[2] == "artifacts"):
            return f"{PROXY_SCHEME}/{number}/{'/'.join(rest)}"
    return None


def moment(milliseconds: int | None, default: datetime | None = None) -> datetime:
    """A file store time (epoch milliseconds, maybe missing or absurd) as an aware datetime."""
    if milliseconds is None or not 0 <= milliseconds <= MAX_MS:
        return default or timezone.now()
    return ms_to_datetime(milliseconds)
