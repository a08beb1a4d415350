"""Artifacts in an S3 bucket, or any service that speaks S3 (MinIO, Ceph, R2, moto...).

`s3://bucket/prefix` names the store; every key is `prefix/` + a path that `clean_path` has
already validated, so no key can lead out of the prefix. Where the service is and who we are
come from the environment, as boto3 reads it (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
`AWS_REGION`, a profile, an instance role...), and MLflow's `MLFLOW_S3_ENDPOINT_URL` is honoured
too, so a deployment moved from MLflow keeps its variables.

An object store has keys, not folders: a "folder" is a prefix with objects under it, so it exists
while it holds a file and disappears with its last one (on disk, an emptied folder stays; nothing
here depends on that). Saving under a key that is also a "file" (`a` and `a/b`) is not refused
as on disk: it would cost a request per parent on every save.

Writes are whole or nothing: a body below one part goes in one PUT, a larger one as a multipart
upload of `PART_SIZE` parts, aborted if the stream fails, and S3 shows the new object only once
the upload completes. Memory holds one part at a time, whatever the file's size.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO, Self
from urllib.parse import quote, urlsplit

from botocore.exceptions import ClientError
from django.core.exceptions import ImproperlyConfigured

from tracking.artifacts.base import (
    ArtifactIsADirectory,
    ArtifactNotFound,
    ArtifactReplaced,
    ArtifactStore,
    FileInfo,
    PartUrl,
    UploadedPart,
)
from tracking.artifacts.ranged import RangedReader
from tracking.errors import InvalidParameterValue

# 8 MiB parts: above S3's 5 MiB minimum, 10,000 of them (S3's maximum) make 80 GB, more than the
# default upload limit (STUDIO_MAX_ARTIFACT_BYTES, 50 GiB).
PART_SIZE = 8 * 1024 * 1024
MAX_PARTS = 10_000
DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes
LIST_PAGE = 1000  # keys per ListObjectsV2 page, S3's maximum

_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_BAD_PARTS_CODES = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML"})


class S3ArtifactStore(ArtifactStore):
    supports_direct_transfers = True

    def __init__(
        self, bucket: str, prefix: str = "", *, client: Any | None = None, signer: Any | None = None
    ) -> None:
        if not bucket:
            raise InvalidParameterValue("An S3 artifact root needs a bucket: s3://<bucket>/<prefix>.")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client if client is not None else s3_client()
        # Signs the URLs that clients and browsers use, for the address they reach the store at.
        self.signer = signer if signer is not None else (s3_signer() if client is None else client)

    @classmethod
    def from_uri(cls, uri: str) -> Self:
        """`s3://bucket` or `s3://bucket/some/prefix`."""
        parts = urlsplit(uri)
        return cls(parts.netloc, parts.path)

    def __repr__(self) -> str:
        return f"S3ArtifactStore('s3://{self.bucket}/{self.prefix}')"

    # --- Keys --------------------------------------------------------------------------------

    def _key(self, path: str) -> str:
        return "/".join(part for part in (self.prefix, path) if part)

    def _folder(self, path: str) -> str:
        """The key prefix of everything inside the folder `path` ("" for the bucket's root)."""
        key = self._key(path)
        return f"{key}/" if key else ""

    def _relative(self, key: str) -> str:
        return key[len(self.prefix) + 1 :] if self.prefix else key

    # --- Reading -----------------------------------------------------------------------------

    def _within(self, prefix: str) -> S3ArtifactStore:
        return S3ArtifactStore(self.bucket, self._key(prefix), client=self.client, signer=self.signer)

    def _list(self, prefix: str) -> list[FileInfo]:
        folder = self._folder(prefix)
        infos = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=folder, Delimiter="/", PaginationConfig={"PageSize": LIST_PAGE}
        )
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                infos.append(FileInfo(self._relative(common["Prefix"].rstrip("/")), True, None))
            for item in page.get("Contents", []):
                if item["Key"] != folder:  # a "folder marker" some tools write
                    infos.append(FileInfo(self._relative(item["Key"]), False, item["Size"]))
        return sorted(infos, key=lambda info: info.path)

    def _open_sized(self, path: str) -> tuple[BinaryIO, int]:
        head = self._file_head(path)
        key, etag = self._key(path), head["ETag"]

        def read_range(start: int, end: int) -> bytes:
            # Every range is of the version opened: a file replaced meanwhile is an error, not a
            # mix of two versions.
            try:
                with _errors_mapped(path):
                    answer = self.client.get_object(
                        Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end}", IfMatch=etag
                    )
                    return answer["Body"].read()
            except ClientError as error:
                if _code(error) in ("PreconditionFailed", "412"):
                    raise ArtifactReplaced(f"Artifact '{path}' was replaced while it was read.") from None
                raise

        size = head["ContentLength"]
        return RangedReader(size, read_range, name=path), size  # type: ignore[return-value]

    def _size(self, path: str) -> int:
        return self._file_head(path)["ContentLength"]

    def _file_head(self, path: str) -> dict[str, Any]:
        head = self._head(path)
        if head is None:
            if self._is_dir(path):
                raise ArtifactIsADirectory(f"Artifact '{path}' is a directory, not a file.")
            raise ArtifactNotFound(f"No such artifact: '{path}'")
        return head

    def _is_dir(self, path: str) -> bool:
        found = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._folder(path), MaxKeys=1)
        return found.get("KeyCount", 0) > 0

    def _exists(self, path: str) -> bool:
        return (path != "" and self._head(path) is not None) or self._is_dir(path)

    def _walk(self, prefix: str) -> Iterator[FileInfo]:
        # Looked up now rather than at the first next(), as the local store does.
        head = self._head(prefix) if prefix else None
        if head is not None:
            return iter([FileInfo(prefix, False, head["ContentLength"])])
        return self._walk_folder(prefix)

    def _walk_folder(self, prefix: str) -> Iterator[FileInfo]:
        folder = self._folder(prefix)
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=folder, PaginationConfig={"PageSize": LIST_PAGE}
        )
        for page in pages:
            for item in page.get("Contents", []):
                if not item["Key"].endswith("/"):
                    yield FileInfo(self._relative(item["Key"]), False, item["Size"])

    def _head(self, path: str) -> dict[str, Any] | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(path))
        except ClientError as error:
            if _code(error) in _NOT_FOUND_CODES:
                return None
            raise

    # --- Writing -----------------------------------------------------------------------------

    def _save(self, path: str, chunks: Iterator[bytes]) -> int:
        if self._is_dir(path):
            raise ArtifactIsADirectory(f"Cannot save artifact '{path}': it is a directory.")
        key = self._key(path)
        buffer = bytearray()
        for chunk in chunks:
            buffer += chunk
            if len(buffer) >= PART_SIZE:
                return self._save_in_parts(key, buffer, chunks)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=bytes(buffer))
        return len(buffer)

    def _save_in_parts(self, key: str, buffer: bytearray, chunks: Iterator[bytes]) -> int:
        """Uploads `buffer` and then the rest of `chunks` a part at a time; aborted on any error
        (the stream's included), so the key keeps its previous object or stays absent."""
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        parts: list[dict[str, Any]] = []
        written = 0

        def send(body: bytes) -> None:
            number = len(parts) + 1
            if number > MAX_PARTS:
                raise InvalidParameterValue(
                    f"Artifact '{key}' needs more than {MAX_PARTS} parts of {PART_SIZE} bytes."
                )
            sent = self.client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
            )
            parts.append({"PartNumber": number, "ETag": sent["ETag"]})

        try:
            for chunk in chunks:
                buffer += chunk
                while len(buffer) >= PART_SIZE:
                    with memoryview(buffer) as view:  # one copy of the part, not two
                        part = bytes(view[:PART_SIZE])
                    del buffer[:PART_SIZE]
                    send(part)
                    del part
                    written += PART_SIZE
            if buffer:
                send(bytes(buffer))
                written += len(buffer)
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise
        return written

    def _delete(self, path: str) -> int:
        """The object `path` and every object under `path/`, in batches of DELETE_BATCH keys."""
        freed = 0
        batch: list[dict[str, str]] = []
        head = self._head(path)
        if head is not None:
            batch.append({"Key": self._key(path)})
            freed += head["ContentLength"]
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._folder(path), PaginationConfig={"PageSize": LIST_PAGE}
        )
        for page in pages:
            for item in page.get("Contents", []):
                batch.append({"Key": item["Key"]})
                freed += item["Size"]
                if len(batch) == DELETE_BATCH:
                    self._delete_batch(batch)
                    batch = []
        if batch:
            self._delete_batch(batch)
        return freed

    def _delete_batch(self, keys: list[dict[str, str]]) -> None:
        answer = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
        failed = answer.get("Errors") or []
        if failed:
            first = failed[0]
            raise OSError(
                f"S3 refused to delete {len(failed)} of {len(keys)} objects, "
                f"{first.get('Key')!r} first: {first.get('Code')} {first.get('Message')}"
            )

    # --- Direct transfers --------------------------------------------------------------------

    def _presigned_download_url(self, path: str, seconds: int, filename: str | None) -> str:
        params = {"Bucket": self.bucket, "Key": self._key(path)}
        if filename is not None:
            params["ResponseContentDisposition"] = attachment(filename)
        return self.signer.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)

    def _start_multipart(self, path: str, parts: int, seconds: int) -> tuple[str, list[PartUrl]]:
        if not 1 <= parts <= MAX_PARTS:
            raise InvalidParameterValue(f"A multipart upload has 1 to {MAX_PARTS} parts, not {parts}.")
        if self._is_dir(path):
            raise ArtifactIsADirectory(f"Cannot upload artifact '{path}': it is a directory.")
        key = self._key(path)
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        urls = [
            PartUrl(
                part_number=number,
                url=self.signer.generate_presigned_url(
                    "upload_part",
                    Params={"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": number},
                    ExpiresIn=seconds,
                ),
                headers={},
            )
            for number in range(1, parts + 1)
        ]
        return upload_id, urls

    def _complete_multipart(self, path: str, upload_id: str, parts: list[UploadedPart]) -> None:
        with _errors_mapped(path, upload_id):
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self._key(path),
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": part.part_number, "ETag": part.etag} for part in parts]
                },
            )

    def _abort_multipart(self, path: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self._key(path), UploadId=upload_id)
        except ClientError as error:
            if _code(error) != "NoSuchUpload":  # aborting twice, or after completing, is done
                raise _mapped(error, path, upload_id) from error


def attachment(filename: str) -> str:
    """A Content-Disposition that saves the file rather than shows it, under its own name even
    when that name is not ASCII (RFC 6266: a plain fallback and the exact UTF-8 name)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


# --- The client ------------------------------------------------------------------------------

_client_lock = threading.Lock()


@functools.cache
def _cached_client(endpoint_url: str | None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        retries={"mode": "standard", "max_attempts": 3},
        # Each of a web process's threads may be streaming an artifact at once.
        max_pool_connections=32,
        # Services at an address of their own (MinIO, moto) rarely have a DNS name per bucket.
        s3={"addressing_style": "path"} if endpoint_url else {},
    )
    session = boto3.session.Session()
    # Found in the environment, a profile or an instance role; checked at start-up (studio.checks).
    if session.get_credentials() is None:
        raise ImproperlyConfigured(
            "No S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile (AWS_PROFILE)."
        )
    return session.client("s3", endpoint_url=endpoint_url, config=config)


def s3_client() -> Any:
    """The process's S3 client (boto3 clients are thread-safe), built on first use from the
    environment. MLflow's MLFLOW_S3_ENDPOINT_URL wins over boto3's own AWS_ENDPOINT_URL."""
    endpoint_url = os.environ.get("MLFLOW_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL") or None
    # Creating boto3 clients is not thread-safe; the first requests of a fresh process race here.
    with _client_lock:
        return _cached_client(endpoint_url)


def s3_signer() -> Any:
    """The client that signs URLs for others: where the server reaches the store by an inner
    name (`http://minio:9000` in docker-compose), STUDIO_S3_PUBLIC_ENDPOINT_URL is the address
    clients and browsers reach it at, which a signed URL must name (the host is signed too)."""
    public = os.environ.get("STUDIO_S3_PUBLIC_ENDPOINT_URL", "").strip()
    if not public:
        return s3_client()
    with _client_lock:
        return _cached_client(public)


def _code(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


def _mapped(error: Exception, path: str, upload_id: str | None = None) -> Exception:
    code = _code(error)
    if code in _NOT_FOUND_CODES:
        return ArtifactNotFound(f"No such artifact: '{path}'")
    if code == "NoSuchUpload":
        return ArtifactNotFound(f"No multipart upload {upload_id!r} is under way for '{path}'.")
    if code in _BAD_PARTS_CODES:
        return InvalidParameterValue(f"The parts of the upload to '{path}' do not fit together: {code}.")
    return error


class _errors_mapped:
    """Turns the S3 errors a caller may cause (a missing key, a bad upload) into the store's own."""

    def __init__(self, path: str, upload_id: str | None = None) -> None:
        self.path, self.upload_id = path, upload_id

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        if isinstance(error, ClientError):
            mapped = _mapped(error, self.path, self.upload_id)
            if mapped is not error:
                raise mapped from error
        return False
