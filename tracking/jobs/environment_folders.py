"""The folders of built environments on this machine: where they are, whether one is whole, its
size, and the file locks that keep builders, users and evictors of one folder apart.

A worker holds a shared lock on an environment's lock file while a job runs in it, and an
exclusive one while it builds it; eviction and deletion take the exclusive lock without waiting
and leave the folder alone when they cannot have it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

MARKER = ".studio-environment.json"  # written last: a folder without it is not a whole environment


def environments_root() -> Path:
    return Path(settings.ENVIRONMENTS_DIR)


def environment_folder(workspace_name: str, spec_hash: str) -> Path:
    # By the workspace's name (a slug, without dots), which outlives a test's or a restore's ids.
    return environments_root() / f"{workspace_name}.{spec_hash[:32]}"


def is_whole(folder: Path) -> bool:
    # bin/python is a link to the base interpreter: exists() also says that one is still there.
    return (folder / MARKER).is_file() and (folder / "bin" / "python").exists()


def folder_size(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def open_lock(folder: Path) -> int:
    locks = environments_root() / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    return os.open(locks / f"{folder.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)


def try_lock(fd: int, *, exclusive: bool) -> bool:
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def exclusive_or_nothing(folder: Path) -> Iterator[bool]:
    """The exclusive lock if nobody holds the folder now (True), else False at once."""
    fd = open_lock(folder)
    try:
        yield try_lock(fd, exclusive=True)
    finally:
        os.close(fd)


def remove_folder(folder: Path) -> None:
    """Renames it aside first, so that no reader ever sees half a folder, then removes it."""
    if not folder.exists():
        return
    aside = environments_root() / ".removing" / f"{folder.name}-{os.getpid()}-{id(folder)}"
    aside.parent.mkdir(parents=True, exist_ok=True)
    os.rename(folder, aside)
    shutil.rmtree(aside, ignore_errors=True)
