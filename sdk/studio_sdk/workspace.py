"""A workspace of a Studio server, as the SDK's user holds it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import requests

from . import auth
from .config import read_config
from .errors import raise_for_error


class Workspace:
    """A workspace on a Studio server: `Workspace.from_config()` or `Workspace(server, name)`.

    The personal access token is `token`, else $STUDIO_TOKEN, else the config's `token`; with
    none (a server in local mode) requests carry no credentials.
    """

    def __init__(
        self,
        server: str,
        name: str,
        resource_group: str = "",
        *,
        token: str | None = None,
        timeout: float = 60.0,
    ):
        self.server = server.rstrip("/")
        self.name = name
        self.resource_group = resource_group
        self.timeout = timeout
        personal = token or os.environ.get("STUDIO_TOKEN", "")
        self.tokens = auth.TokenSource(self.server, name, personal, timeout=timeout) if personal else None

    def __repr__(self) -> str:
        return (
            f"Workspace(server={self.server!r}, name={self.name!r}, resource_group={self.resource_group!r})"
        )

    @classmethod
    def from_config(cls, path: str | Path | None = None, *, token: str | None = None) -> Workspace:
        """The workspace of the nearest config.json (this folder or one above it, or `path`)."""
        config = read_config(path)
        return cls(
            config.server,
            config.workspace,
            config.resource_group,
            token=token or os.environ.get("STUDIO_TOKEN") or config.token or None,
        )

    def get_mlflow_tracking_uri(self) -> str:
        """The workspace's tracking URI; MLflow's requests to it get a fresh token from now on."""
        auth.ensure_registered()
        auth.activate(self.tokens)
        return self.tracking_uri

    @property
    def tracking_uri(self) -> str:
        return f"{self.server}/ws/{self.name}"

    def tracking_token(self) -> str | None:
        """A currently valid tracking token (None without a personal access token)."""
        return self.tokens.token() if self.tokens else None

    # The studio's own API (jobs), with the same tracking token.
    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**auth.CLIENT_HEADERS, **(kwargs.pop("headers", None) or {})}
        token = self.tracking_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = requests.request(
            method,
            f"{self.server}/api/studio/v1/workspaces/{self.name}/{path.lstrip('/')}",
            headers=headers,
            timeout=kwargs.pop("timeout", self.timeout),
            **kwargs,
        )
        raise_for_error(response)
        return response
