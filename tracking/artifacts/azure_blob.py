"""Artifacts in an Azure Blob Storage container, under a prefix, as MLflow names them:
`wasbs://<container>@<account>.blob.core.windows.net/<prefix>`.

Credentials come from the environment, as for MLflow's own client: `AZURE_STORAGE_CONNECTION_STRING`
(which also names the endpoint, so an emulator such as Azurite works), else `AZURE_STORAGE_ACCESS_KEY`
for the account of the URI. A store builds its container client once per root and credentials,
and `within()` shares it.

An object store has no folders: a folder is the names that start with `folder/`. So an empty
folder does not exist, deleting the last file of a folder removes the folder, and a blob may be
saved below a name that is also a file (checking every ancestor would cost a request each on
every save); saving a file over a folder is still refused, as on disk.

Writes are staged as blocks of BLOCK_SIZE and committed at the end. Staged blocks are never
visible, so a stream that fails midway (or runs past `max_bytes`) leaves the previous version, or
nothing, in place; Azure discards the uncommitted blocks at the blob's next commit or after a week.

The Azure SDK is imported on first use, not with this module: it takes most of a second, which
every process that never touches Azure would otherwise pay at start-up.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import islice
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote, urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.utils.http import content_disposition_header

from tracking.artifacts.base import (
    ArtifactIsADirectory,
    ArtifactNotFound,
    ArtifactReplaced,
    ArtifactStore,
    FileInfo,
    PartUrl,
    UploadedPart,
)
from tracking.artifacts.paths import clean_path
from tracking.artifacts.ranged import RangedReader
from tracking.errors import InvalidParameterValue

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient, BlobProperties, ContainerClient

# Large enough that a 50 GB artifact stays far below Azure's 50,000 blocks a blob, small enough
# that one block in memory per upload is affordable.
BLOCK_SIZE = 8 * 1024 * 1024
# The most blobs one batch request may delete.
DELETE_BATCH_SIZE = 256
# Azure's limit of blocks in one blob; block ids number parts with five digits.
MAX_PARTS = 50_000

_HOST = re.compile(
    r"(?P<container>[^@]+)@(?P<account>[^.]+)\."
    r"(?P<suffix>blob\.core\.(?:windows\.net|chinacloudapi\.cn|usgovcloudapi\.net))"
)
_UPLOAD_ID = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True, slots=True)
class BlobRoot:
    """What a `wasbs://` URI names: a container of an account, and a prefix ("" for the whole)."""

    container: str
    account: str
    endpoint_suffix: str
    prefix: str

    @classmethod
    def parse(cls, uri: str) -> BlobRoot:
        parts = urlsplit(uri)
        match = _HOST.fullmatch(parts.netloc)
        if parts.scheme.lower() != "wasbs" or match is None:
            raise InvalidParameterValue(
                f"Azure artifact URI {uri!r} must look like "
                "wasbs://<container>@<account>.blob.core.windows.net/<prefix>."
            )
        prefix = clean_path(parts.path.lstrip("/"), allow_empty=True)
        return cls(match["container"], match["account"], match["suffix"], prefix)

    @property
    def uri(self) -> str:
        return f"wasbs://{self.container}@{self.account}.{self.endpoint_suffix}/{self.prefix}".rstrip("/")

    def key(self, path: str) -> str:
        """The blob name of a clean relative path ("" names the prefix itself)."""
        return "/".join(part for part in (self.prefix, path) if part)

    def folder_key(self, path: str) -> str:
        """The start every blob name under the folder `path` shares ("" at the container's root)."""
        key = self.key(path)
        return f"{key}/" if key else ""


class AzureBlobArtifactStore(ArtifactStore):
    def __init__(self, uri: str, *, container_client: ContainerClient | None = None) -> None:
        self.root = BlobRoot.parse(uri)
        self._container = container_client or _container_client(
            self.root.container,
            self.root.account,
            self.root.endpoint_suffix,
            os.environ.get("AZURE_STORAGE_CONNECTION_STRING") or None,
            os.environ.get("AZURE_STORAGE_ACCESS_KEY") or None,
        )

    def __repr__(self) -> str:
        return f"AzureBlobArtifactStore({self.root.uri!r})"

    @property
    def supports_direct_transfers(self) -> bool:  # type: ignore[override]
        # Signed URLs are signed with the account key; a SAS-only connection string has none.
        return _account_key(self._container) is not None

    def _within(self, prefix: str) -> AzureBlobArtifactStore:
        root = replace(self.root, prefix=self.root.key(prefix))
        return AzureBlobArtifactStore(root.uri, container_client=self._container)

    # --- Reading ----------------------------------------------------------------------------------

    def _list(self, prefix: str) -> list[FileInfo]:
        from azure.storage.blob import BlobPrefix

        infos = []
        start = self.root.folder_key(prefix)
        for item in self._container.walk_blobs(name_starts_with=start or None):
            if item.name == start:
                continue  # a blob named like the folder itself ("folder/"), as some tools make
            path = self._relative(item.name.rstrip("/"))
            if isinstance(item, BlobPrefix):
                infos.append(FileInfo(path, True, None))
            else:
                infos.append(FileInfo(path, False, item.size))
        return sorted(infos, key=lambda info: info.path)

    def _open_sized(self, path: str) -> tuple[BinaryIO, int]:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError

        properties = self._properties(path)
        blob = self._blob(path)

        def read_range(start: int, end: int) -> bytes:
            # Every range is of the version opened: a file replaced meanwhile is an error, not a
            # mix of two versions.
            try:
                download = blob.download_blob(
                    offset=start,
                    length=end - start + 1,
                    etag=properties.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceModifiedError:
                raise ArtifactReplaced(f"Artifact '{path}' was replaced while it was read.") from None
            return download.readall()

        return RangedReader(properties.size, read_range, name=path), properties.size  # type: ignore[return-value]

    def _size(self, path: str) -> int:
        return self._properties(path).size

    def _is_dir(self, path: str) -> bool:
        return path == "" or self._has_children(path)

    def _exists(self, path: str) -> bool:
        return path == "" or self._blob(path).exists() or self._has_children(path)

    def _walk(self, prefix: str) -> Iterator[FileInfo]:
        from azure.core.exceptions import ResourceNotFoundError

        found = False
        for blob in self._container.list_blobs(name_starts_with=self.root.folder_key(prefix) or None):
            path = self._relative(blob.name)
            if path and not path.endswith("/"):
                found = True
                yield FileInfo(path, False, blob.size)
        if found or not prefix:
            return
        try:
            yield FileInfo(prefix, False, self._blob(prefix).get_blob_properties().size)
        except ResourceNotFoundError:
            return

    # --- Writing ----------------------------------------------------------------------------------

    def _save(self, path: str, chunks: Iterator[bytes]) -> int:
        """1. Refuse a path that is a folder.
        2. Gather chunks up to BLOCK_SIZE; stage each full block.
        3. A file smaller than one block is written with one request; a larger one is committed
           from its block list, which is when it appears whole (or replaces the old version).
        """
        self._refuse_folder(path)
        blob = self._blob(path)
        upload_id = _new_upload_id()
        block_ids: list[str] = []
        pending = bytearray()
        written = 0
        for chunk in chunks:
            pending += chunk
            written += len(chunk)
            if len(pending) >= BLOCK_SIZE:
                block_ids.append(_block_id(upload_id, len(block_ids) + 1))
                blob.stage_block(block_ids[-1], pending, length=len(pending))
                pending = bytearray()
        if not block_ids:
            blob.upload_blob(bytes(pending), overwrite=True, content_settings=_content_settings(path))
            return written
        if pending:
            block_ids.append(_block_id(upload_id, len(block_ids) + 1))
            blob.stage_block(block_ids[-1], pending, length=len(pending))
        blob.commit_block_list(block_ids, content_settings=_content_settings(path))
        return written

    def _delete(self, path: str) -> int:
        """The blob `path` and every blob under `path/`, deleted DELETE_BATCH_SIZE to a request."""
        from azure.core.exceptions import ResourceNotFoundError

        doomed = {
            blob.name: blob.size
            for blob in self._container.list_blobs(name_starts_with=self.root.folder_key(path))
        }
        with suppress(ResourceNotFoundError):
            doomed[self.root.key(path)] = self._blob(path).get_blob_properties().size
        names = sorted(doomed)
        for start in range(0, len(names), DELETE_BATCH_SIZE):
            batch = names[start : start + DELETE_BATCH_SIZE]
            if len(batch) == 1:
                with suppress(ResourceNotFoundError):  # deleted meanwhile by someone else: just as gone
                    self._container.delete_blob(batch[0])
            else:
                # A blob deleted meanwhile answers 404 in its part of the batch: just as gone.
                self._container.delete_blobs(*batch, raise_on_any_failure=False)
        return sum(doomed.values())

    # --- Direct transfers -------------------------------------------------------------------------

    def _presigned_download_url(self, path: str, seconds: int, filename: str | None) -> str:
        self._properties(path)  # a missing file is ArtifactNotFound here, not a 404 from Azure later
        blob = self._blob(path)
        disposition = content_disposition_header(True, filename) if filename else None
        return f"{blob.url}?{self._sas(path, seconds, read=True, content_disposition=disposition)}"

    def _start_multipart(self, path: str, parts: int, seconds: int) -> tuple[str, list[PartUrl]]:
        """Each part is a `Put Block` of a block id made of the upload id and the part number, so
        two uploads to one path never take each other's parts. The client PUTs the bytes with no
        header of its own (a block has no blob type; Azure answers without an ETag)."""
        if not 1 <= parts <= MAX_PARTS:
            raise InvalidParameterValue(f"A multipart upload has 1 to {MAX_PARTS} parts, not {parts}.")
        self._refuse_folder(path)
        upload_id = _new_upload_id()
        url = self._blob(path).url
        sas = self._sas(path, seconds, write=True)
        return upload_id, [
            PartUrl(
                number,
                f"{url}?comp=block&blockid={quote(_encoded_block_id(upload_id, number), safe='')}&{sas}",
                {},
            )
            for number in range(1, parts + 1)
        ]

    def _complete_multipart(self, path: str, upload_id: str, parts: list[UploadedPart]) -> None:
        from azure.core.exceptions import HttpResponseError

        _check_upload_id(upload_id)
        numbers = sorted(part.part_number for part in parts)
        if (
            not numbers
            or len(set(numbers)) != len(numbers)
            or not 1 <= numbers[0] <= numbers[-1] <= MAX_PARTS
        ):
            raise InvalidParameterValue(
                f"Cannot complete the upload of '{path}': the parts must be distinct numbers from 1 to {MAX_PARTS}."
            )
        self._refuse_folder(path)
        try:
            self._blob(path).commit_block_list(
                [_block_id(upload_id, number) for number in numbers], content_settings=_content_settings(path)
            )
        except HttpResponseError as error:
            if error.error_code != "InvalidBlockList":
                raise
            raise InvalidParameterValue(
                f"Cannot complete the upload of '{path}': a part was never uploaded, or the upload "
                "was overtaken by another write to the same path."
            ) from None

    def _abort_multipart(self, path: str, upload_id: str) -> None:
        # Azure has no call that drops uncommitted blocks: they go at the blob's next commit, or
        # after seven days; until then they are invisible and cost only their storage.
        _check_upload_id(upload_id)

    # --- Helpers ----------------------------------------------------------------------------------

    def _blob(self, path: str) -> BlobClient:
        return self._container.get_blob_client(self.root.key(path))

    def _relative(self, name: str) -> str:
        """A blob name as a path relative to this store's root."""
        return name[len(self.root.folder_key("")) :]

    def _properties(self, path: str) -> BlobProperties:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self._blob(path).get_blob_properties()
        except ResourceNotFoundError:
            if self._has_children(path):
                raise ArtifactIsADirectory(f"Artifact '{path}' is a directory, not a file.") from None
            raise ArtifactNotFound(f"No such artifact: '{path}'") from None

    def _has_children(self, path: str) -> bool:
        names = self._container.list_blobs(name_starts_with=self.root.folder_key(path), results_per_page=1)
        return any(True for _ in islice(names, 1))

    def _refuse_folder(self, path: str) -> None:
        if self._has_children(path):
            raise ArtifactIsADirectory(f"Cannot save artifact '{path}': it is a directory.")

    def _sas(
        self, path: str, seconds: int, *, read: bool = False, write: bool = False, **options: Any
    ) -> str:
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        account_key = _account_key(self._container)
        if account_key is None:  # supports_direct_transfers said so; the base class checked it
            raise ImproperlyConfigured("Signed Azure URLs need the account key.")
        return generate_blob_sas(
            account_name=self._container.account_name,
            container_name=self.root.container,
            blob_name=self.root.key(path),
            account_key=account_key,
            permission=BlobSasPermissions(read=read, write=write),
            # No start time: a server clock a little ahead of Azure's must not make a new URL invalid.
            expiry=datetime.now(UTC) + timedelta(seconds=seconds),
            **{name: value for name, value in options.items() if value is not None},
        )


@lru_cache(maxsize=32)
def _container_client(
    container: str, account: str, endpoint_suffix: str, connection_string: str | None, access_key: str | None
) -> ContainerClient:
    """One client per container and credentials, shared by every store on it (and its HTTP
    connections with them)."""
    from azure.storage.blob import BlobServiceClient

    if connection_string:
        service = BlobServiceClient.from_connection_string(connection_string)
        if service.account_name != account:
            raise ImproperlyConfigured(
                f"AZURE_STORAGE_CONNECTION_STRING is for the account {service.account_name!r}, "
                f"but the artifact root names the account {account!r}."
            )
    elif access_key:
        service = BlobServiceClient(f"https://{account}.{endpoint_suffix}", credential=access_key)
    else:
        raise ImproperlyConfigured(
            f"The Azure artifact root (account {account!r}) needs AZURE_STORAGE_CONNECTION_STRING "
            "or AZURE_STORAGE_ACCESS_KEY in the environment."
        )
    return service.get_container_client(container)


def _account_key(container: ContainerClient) -> str | None:
    return getattr(container.credential, "account_key", None)


def _new_upload_id() -> str:
    return secrets.token_hex(8)


def _check_upload_id(upload_id: str) -> None:
    if not isinstance(upload_id, str) or not _UPLOAD_ID.fullmatch(upload_id):
        raise InvalidParameterValue(f"Invalid upload id {upload_id!r}.")


def _block_id(upload_id: str, number: int) -> str:
    # All block ids of a blob must have one length, uncommitted ones of other uploads included.
    return f"{upload_id}-{number:05d}"


def _encoded_block_id(upload_id: str, number: int) -> str:
    """The block id as the REST API takes it; the SDK encodes `_block_id`'s the same way."""
    return base64.b64encode(_block_id(upload_id, number).encode()).decode()


def _content_settings(path: str) -> Any:
    from azure.storage.blob import ContentSettings

    # What a browser following a signed download URL is told it gets.
    return ContentSettings(content_type=mimetypes.guess_type(path)[0] or "application/octet-stream")
