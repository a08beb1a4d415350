"""Artifact storage: one interface (`ArtifactStore`), backends chosen by URI scheme.

Callers ask `store_for(uri)` or `default_store()` and never name a backend, so another one (S3, say)
is a `register_store_class("s3", S3Store)` away; its class builds itself with `from_uri(uri)`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from tracking.artifacts.azure_blob import AzureBlobArtifactStore
from tracking.artifacts.base import (
    CHUNK_SIZE,
    ArtifactIsADirectory,
    ArtifactNotFound,
    ArtifactReplaced,
    ArtifactStore,
    ArtifactTooLarge,
    DirectTransfersUnsupported,
    FileInfo,
    PartUrl,
    UploadedPart,
)
from tracking.artifacts.local import LocalArtifactStore
from tracking.artifacts.paths import MAX_PATH_LENGTH, clean_path
from tracking.artifacts.s3 import S3ArtifactStore
from tracking.errors import InvalidParameterValue

__all__ = [
    "CHUNK_SIZE",
    "MAX_PATH_LENGTH",
    "ArtifactIsADirectory",
    "ArtifactNotFound",
    "ArtifactReplaced",
    "ArtifactStore",
    "ArtifactTooLarge",
    "AzureBlobArtifactStore",
    "DirectTransfersUnsupported",
    "FileInfo",
    "LocalArtifactStore",
    "PartUrl",
    "S3ArtifactStore",
    "UploadedPart",
    "clean_path",
    "default_store",
    "is_local_root",
    "register_store_class",
    "store_for",
]

_store_classes: dict[str, type[ArtifactStore]] = {"file": LocalArtifactStore}
_default_stores: dict[str, ArtifactStore] = {}


def register_store_class(scheme: str, store_class: type[ArtifactStore]) -> None:
    """Serve URIs of `scheme` ("s3", ...) with `store_class`; registering a scheme again replaces it."""
    _store_classes[scheme.lower()] = store_class


# MLflow's URI form for Azure Blob Storage; the unencrypted `wasb` is refused, as MLflow does.
register_store_class("wasbs", AzureBlobArtifactStore)
# S3, and every service that speaks its protocol (MinIO, Ceph, R2...).
register_store_class("s3", S3ArtifactStore)


def store_for(uri_or_root: str | Path) -> ArtifactStore:
    """The store for a URI ("file:///srv/a", "s3://bucket/prefix") or a plain folder path."""
    uri = str(uri_or_root)
    # A plain path has no scheme; a one-letter "scheme" is a Windows drive, also a path.
    scheme = urlsplit(uri).scheme.lower() if not isinstance(uri_or_root, Path) else ""
    if len(scheme) <= 1:
        scheme = "file"
    try:
        store_class = _store_classes[scheme]
    except KeyError:
        known = ", ".join(sorted(_store_classes))
        raise InvalidParameterValue(
            f"No artifact store handles {scheme!r} URIs like {uri!r} (known schemes: {known})."
        ) from None
    return store_class.from_uri(uri)


def is_local_root(root: str | Path) -> bool:
    """Whether an artifact root (settings.ARTIFACT_ROOT) is a folder on this machine."""
    if isinstance(root, Path):
        return True
    return len(urlsplit(str(root)).scheme) <= 1 or urlsplit(str(root)).scheme.lower() == "file"


def default_store() -> ArtifactStore:
    """The store at settings.ARTIFACT_ROOT (a folder, or a URI such as `s3://bucket/prefix`),
    built on first use; one per root, which is read on every call (tests change it)."""
    root = settings.ARTIFACT_ROOT
    key = str(root)
    store = _default_stores.get(key)
    if store is None:
        if is_local_root(root):
            store = (
                LocalArtifactStore.from_uri(key) if not isinstance(root, Path) else LocalArtifactStore(root)
            )
            store.root.mkdir(parents=True, exist_ok=True)
        else:
            store = store_for(key)
        _default_stores[key] = store
    return store
