"""Copying a folder of artifacts into the workspace's artifact store, file by file.

Each file is written through the store (atomically: readers never see half of it) at its proxy
path. Copying again is harmless, and a copy of a run that is already here skips the files the
store has at the same size, so importing a folder twice copies nothing the second time. A large
file keeps the import's heartbeat going while it streams, so that nobody takes the import over
in the middle of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from tracking.errors import MlflowError
from tracking.models import Workspace
from tracking.services.artifacts import save_artifact, store, workspace_prefix

from .files import SourceFolder
from .reader import artifact_files
from .report import Report

BEAT_EVERY_SECONDS = 5.0


class _Beating:
    """A file whose reading calls `beat()` every few seconds (it raises when the import was lost)."""

    def __init__(self, handle: BinaryIO, beat: Callable[[], None]) -> None:
        self.handle, self.beat, self.last = handle, beat, time.monotonic()

    def read(self, size: int = -1) -> bytes:
        if time.monotonic() - self.last > BEAT_EVERY_SECONDS:
            self.beat()
            self.last = time.monotonic()
        return self.handle.read(size)


def stored_sizes(workspace: Workspace, destination: str) -> dict[str, int]:
    """{path under `destination`: size} of the files the store already has there."""
    prefix = f"{workspace_prefix(workspace)}/{destination}"
    cut = len(prefix) + 1
    return {info.path[cut:]: info.file_size or 0 for info in store().walk(prefix)}


def copy_folder(
    *,
    workspace: Workspace,
    source: SourceFolder,
    folder: Path,
    destination: str,
    report: Report,
    beat: Callable[[], None],
    known: dict[str, int] | None = None,
) -> None:
    """Copies the files under `folder` to `destination` (a proxy path such as `3/<run id>/artifacts`).

    `known` lists what the store already has there (files of the same size are skipped).
    """
    known = known or {}
    for relative, path, size in artifact_files(source, folder):
        report.read("artifacts")
        if known.get(relative) == size:
            continue
        handle = source.open_binary(path)
        if handle is None:
            continue
        try:
            with handle:
                save_artifact(
                    workspace=workspace, path=f"{destination}/{relative}", stream=_Beating(handle, beat)
                )
        except MlflowError as error:  # a name the store refuses, a file over the size limit
            source.problem(path, f"not copied: {error.message}")
            continue
        except OSError as error:
            source.problem(path, f"not copied: {error.strerror or error}")
            continue
        report.wrote("artifacts")
