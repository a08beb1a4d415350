"""docs/studio-api.md lists every endpoint of the studio API, and nothing it does not serve."""

from __future__ import annotations

import re
from pathlib import Path

from studio.api.urls import urlpatterns

DOCS = Path(__file__).resolve().parents[3] / "docs" / "studio-api.md"


def _documented() -> set[tuple[str, str]]:
    rows = re.findall(
        r"^\| (GET|POST|PATCH|PUT|DELETE) \| `(/api/studio/v1/[^`]*)` \|", DOCS.read_text(), re.M
    )
    return {(method, re.sub(r"<[^>]+>", "<>", path)) for method, path in rows}


def _served() -> set[tuple[str, str]]:
    served = set()
    for pattern in urlpatterns:
        path = "/api/studio/v1/" + re.sub(r"<[^>]+>", "<>", str(pattern.pattern))
        endpoint = pattern.callback.view_class
        for method in ("get", "post", "patch", "put", "delete"):
            if hasattr(endpoint, method):
                served.add((method.upper(), path))
    return served


def test_the_docs_list_every_endpoint_and_only_those():
    assert _documented() == _served()
