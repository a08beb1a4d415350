"""Finding and reading config.json, as Azure ML's `Workspace.from_config()` does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CONFIG_NAMES = ("config.json", ".studio/config.json")


class ConfigNotFound(FileNotFoundError):
    pass


@dataclass(frozen=True)
class WorkspaceConfig:
    server: str
    workspace: str
    resource_group: str = ""
    token: str = ""  # only if someone put it there; the studio's download has none
    path: Path | None = None


def find_config(start: str | Path | None = None) -> Path:
    """The nearest config.json (or .studio/config.json) in `start` or any folder above it."""
    folder = Path(start or Path.cwd()).resolve()
    if folder.is_file():
        return folder
    for candidate_folder in (folder, *folder.parents):
        for name in CONFIG_NAMES:
            candidate = candidate_folder / name
            if candidate.is_file():
                return candidate
    raise ConfigNotFound(
        f"No config.json in {folder} or any folder above it. Download it from the workspace's "
        "Settings page in the studio."
    )


def read_config(path: str | Path | None = None) -> WorkspaceConfig:
    found = find_config(path)
    data = json.loads(found.read_text())
    missing = [key for key in ("server", "workspace") if not data.get(key)]
    if missing:
        raise ValueError(f"{found} lacks {', '.join(missing)}.")
    return WorkspaceConfig(
        server=str(data["server"]).rstrip("/"),
        workspace=str(data["workspace"]),
        resource_group=str(data.get("resource_group", "")),
        token=str(data.get("token", "")),
        path=found,
    )
