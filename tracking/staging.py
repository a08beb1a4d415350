"""Uploads handed from a web server to a worker (an import's archive, a job's snapshot), which may
run on another machine.

A web server streams an upload to its own disk first (tracking/uploads.py). With the artifacts on
this machine's disk, the workers share that disk and read the file where it lies, as before.
With an object store (S3, Azure Blob), a worker may run anywhere, so the finished upload is
moved into the store under `staging/` (outside every workspace's prefix: no member can address
it) and the row keeps a reference `store:staging/...`; the worker copies it back to its own disk
before reading it, and whoever finishes with it (the worker, the sweeper, a deletion) discards it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from tracking.artifacts import ArtifactNotFound, default_store, is_local_root

STORED = "store:"
STAGING = "staging"


def is_staged(reference: str) -> bool:
    return reference.startswith(STORED)


def stage_upload(path: Path, purpose: str) -> str:
    """The reference a row keeps for the uploaded file at `path` (`purpose`: "imports", "jobs").

    On a local artifact root that is the path itself; on an object store the file is copied into
    the store and removed from this disk."""
    if is_local_root(settings.ARTIFACT_ROOT):
        return str(path)
    key = f"{STAGING}/{purpose}/{secrets.token_hex(16)}{''.join(path.suffixes)[-16:]}"
    with open(path, "rb") as handle:
        default_store().save(key, handle)
    path.unlink(missing_ok=True)
    return STORED + key


def staged_size(reference: str) -> int:
    if is_staged(reference):
        return default_store().size(reference[len(STORED) :])
    return Path(reference).stat().st_size


@contextmanager
def local_copy(reference: str, folder: Path) -> Iterator[Path]:
    """A file on this machine's disk with the upload's bytes, for as long as the block runs.

    A staged upload is copied into `folder` (created) and the copy removed afterwards; a path is
    given as it is. Raises FileNotFoundError when the upload is gone."""
    if not is_staged(reference):
        yield Path(reference)
        return
    key = reference[len(STORED) :]
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / f".staged-{secrets.token_hex(8)}{Path(key).suffix}"
    try:
        try:
            source = default_store().open(key)
        except ArtifactNotFound:
            raise FileNotFoundError(reference) from None
        with source, open(copy, "wb") as out:
            while chunk := source.read(1024 * 1024):
                out.write(chunk)
        yield copy
    finally:
        copy.unlink(missing_ok=True)


def discard(reference: str) -> int:
    """Removes the upload wherever it is kept; the bytes freed (0 if it was gone already)."""
    if not reference:
        return 0
    if is_staged(reference):
        return default_store().delete(reference[len(STORED) :])
    path = Path(reference)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    path.unlink(missing_ok=True)
    return size
