"""Tracking tokens for the MLflow client: fetched with a personal access token, renewed early.

MLflow asks each registered request-header provider for headers before every request (the
tracking API and artifact up- and downloads alike). `StudioRequestHeaderProvider` is registered
through the `mlflow.request_header_provider` entry point of this package (and by
`Workspace.get_mlflow_tracking_uri()` when the package was not installed, only imported); while
a workspace is active and MLflow points at its server, it adds `Authorization: Bearer <token>`.

A token is renewed when less than a quarter of its life (at most five minutes) is left, so a
long training never sends an expired one; the life is counted from when the server answered,
on this machine's monotonic clock, so a skewed wall clock does not matter.
"""

from __future__ import annotations

import threading
import time

import requests
from mlflow.tracking.request_header.abstract_request_header_provider import RequestHeaderProvider

from .errors import raise_for_error

MAX_MARGIN_SECONDS = 300.0

# Says "a script, not a web page" to the studio API, which refuses writes a page on another
# site could have sent (a page cannot add this header without asking the server first).
CLIENT_HEADERS = {"X-Studio-Client": "studio-sdk"}


class TokenSource:
    """The current tracking token of one workspace, fetched again before it expires."""

    def __init__(self, server: str, workspace: str, personal_token: str, *, timeout: float = 30.0):
        self.server = server.rstrip("/")
        self.workspace = workspace
        self._personal_token = personal_token
        self._timeout = timeout
        self._lock = threading.Lock()
        self._token = ""
        self._renew_at = 0.0
        self.fetches = 0

    def __repr__(self) -> str:  # never show a secret
        return f"TokenSource({self.server!r}, {self.workspace!r})"

    def token(self) -> str:
        with self._lock:
            if not self._token or time.monotonic() >= self._renew_at:
                self._fetch()
            return self._token

    def _fetch(self) -> None:
        asked_at = time.monotonic()
        response = requests.post(
            f"{self.server}/api/studio/v1/workspaces/{self.workspace}/tracking-token",
            headers={"Authorization": f"Bearer {self._personal_token}", **CLIENT_HEADERS},
            timeout=self._timeout,
        )
        raise_for_error(response)
        body = response.json()
        lifetime = float(body["expires_in"])
        self._token = body["token"]
        self._renew_at = asked_at + lifetime - min(lifetime / 4, MAX_MARGIN_SECONDS)
        self.fetches += 1


_active_lock = threading.Lock()
_active: TokenSource | None = None


def activate(source: TokenSource | None) -> None:
    global _active
    with _active_lock:
        _active = source


def active_source() -> TokenSource | None:
    return _active


def _tracking_uri() -> str:
    from mlflow.tracking._tracking_service.utils import get_tracking_uri

    return get_tracking_uri() or ""


class StudioRequestHeaderProvider(RequestHeaderProvider):
    """Adds the active workspace's tracking token to requests MLflow sends to its server."""

    def in_context(self) -> bool:
        source = _active
        if source is None:
            return False
        # A provider does not see the request's URL. While MLflow's tracking URI names another
        # server, the token stays home; otherwise (ours, or a local store with a client given
        # our URI explicitly) it is sent.
        uri = _tracking_uri()
        return not uri.startswith(("http://", "https://")) or uri.startswith(source.server)

    def request_headers(self) -> dict[str, str]:
        source = _active
        if source is None:
            return {}
        return {"Authorization": f"Bearer {source.token()}"}


def ensure_registered() -> None:
    """Register the provider with MLflow unless the package's entry point already did."""
    from mlflow.tracking.request_header.registry import _request_header_provider_registry

    if not any(isinstance(p, StudioRequestHeaderProvider) for p in _request_header_provider_registry):
        _request_header_provider_registry.register(StudioRequestHeaderProvider)
