"""AzureBlobArtifactStore against Azurite: the local store's behaviour, as far as an object store
has it, plus ranged reads, bounded-memory uploads, and direct transfers with signed URLs."""

from __future__ import annotations

import hashlib
import io
import os
import random
import secrets
import time
import tracemalloc

import pytest
import requests

from tracking.artifacts import (
    CHUNK_SIZE,
    ArtifactIsADirectory,
    ArtifactNotFound,
    ArtifactReplaced,
    AzureBlobArtifactStore,
    FileInfo,
    UploadedPart,
    store_for,
)
from tracking.artifacts.azure_blob import BLOCK_SIZE, DELETE_BATCH_SIZE, BlobRoot
from tracking.errors import InvalidParameterValue


@pytest.fixture
def azure_env(azurite, monkeypatch):
    for name, value in azurite.environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AZURE_STORAGE_ACCESS_KEY", raising=False)


@pytest.fixture
def store(azurite, azure_env) -> AzureBlobArtifactStore:
    """A store of its own: a fresh prefix in the session's container."""
    return AzureBlobArtifactStore(f"{azurite.root_uri}/{secrets.token_hex(6)}")


def write(store: AzureBlobArtifactStore, files: dict[str, bytes]) -> None:
    """Blobs put there directly, as another client would, not through the store under test."""
    for relative, content in files.items():
        store._container.upload_blob(store.root.key(relative), content, overwrite=True)


def leftovers(azurite, store: AzureBlobArtifactStore) -> list[str]:
    return azurite.blob_names(store.root.uri)


# Finding the store


def test_a_wasbs_uri_gives_an_azure_store_on_its_container_and_prefix(azure_env):
    store = store_for("wasbs://models@devstoreaccount1.blob.core.windows.net/team/./artifacts/")
    assert isinstance(store, AzureBlobArtifactStore)
    assert store.root == BlobRoot("models", "devstoreaccount1", "blob.core.windows.net", "team/artifacts")
    assert store.local_path("a.txt") is None


def test_stores_of_one_container_share_one_client(azure_env):
    first = store_for("wasbs://models@devstoreaccount1.blob.core.windows.net/a")
    second = store_for("wasbs://models@devstoreaccount1.blob.core.windows.net/b")
    assert first._container is second._container is first.within("x")._container


@pytest.mark.parametrize(
    "uri",
    [
        "wasbs://models@devstoreaccount1.example.com/prefix",
        "wasbs://devstoreaccount1.blob.core.windows.net/no-container",
        "wasbs://models@devstoreaccount1.blob.core.windows.net/../escape",
    ],
)
def test_a_malformed_azure_uri_is_refused(azure_env, uri):
    with pytest.raises(InvalidParameterValue):
        store_for(uri)


def test_the_unencrypted_wasb_scheme_is_refused_naming_the_known_ones():
    with pytest.raises(InvalidParameterValue, match=r"'wasb'.*known schemes: .*wasbs"):
        store_for("wasb://models@devstoreaccount1.blob.core.windows.net/prefix")


def test_a_connection_string_for_another_account_is_refused(azurite, azure_env):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match=r"'devstoreaccount1'.*names the account 'other'"):
        store_for("wasbs://models@other.blob.core.windows.net/prefix")


def test_without_credentials_the_store_says_which_variables_it_needs(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_ACCESS_KEY", raising=False)
    with pytest.raises(
        ImproperlyConfigured, match="AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCESS_KEY"
    ):
        store_for("wasbs://models@somebody.blob.core.windows.net/prefix")


def test_an_access_key_reaches_the_account_of_the_uri_over_https(monkeypatch):
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.setenv("AZURE_STORAGE_ACCESS_KEY", "c2VjcmV0")
    store = store_for("wasbs://models@somebody.blob.core.usgovcloudapi.net/prefix")
    assert store._container.url == "https://somebody.blob.core.usgovcloudapi.net/models"
    assert store.supports_direct_transfers


# Reading


def test_listing_a_root_with_nothing_under_it_yet_gives_nothing(store):
    assert store.list() == [] and list(store.walk()) == []


def test_folder_markers_made_by_other_tools_are_not_files(store):
    write(store, {"folder/": b"", "folder/a.txt": b"a", "folder/sub/": b""})
    assert store.list() == [FileInfo("folder", True, None)]
    assert store.list("folder") == [FileInfo("folder/a.txt", False, 1), FileInfo("folder/sub", True, None)]
    assert [info.path for info in store.walk("folder")] == ["folder/a.txt"]


def test_it_opens_files_for_binary_reading(store):
    write(store, {"a/b.c/d e.txt": b"hello\x00world"})
    with store.open("a/b.c/d e.txt") as handle:
        assert handle.read() == b"hello\x00world"


def test_an_opened_file_reads_any_range_after_a_seek(store):
    content = random.Random(7).randbytes(3 * CHUNK_SIZE + 11)
    write(store, {"data.bin": content})
    with store.open("data.bin") as handle:
        assert handle.seekable()
        handle.seek(2 * CHUNK_SIZE + 5)
        assert handle.read(10) == content[2 * CHUNK_SIZE + 5 : 2 * CHUNK_SIZE + 15]
        handle.seek(-4, io.SEEK_END)
        assert (handle.read(), handle.tell()) == (content[-4:], len(content))
        handle.seek(100)
        assert handle.read(CHUNK_SIZE + 1) == content[100 : CHUNK_SIZE + 101]


def test_a_file_replaced_while_it_is_read_is_an_error_not_a_mix_of_versions(store):
    write(store, {"model.bin": b"1" * (3 * CHUNK_SIZE)})
    with store.open("model.bin") as handle:
        assert handle.read(10) == b"1" * 10
        write(store, {"model.bin": b"2" * (3 * CHUNK_SIZE)})
        handle.seek(2 * CHUNK_SIZE)
        with pytest.raises(ArtifactReplaced, match="was replaced while it was read"):
            handle.read(10)


def test_a_file_opened_with_its_size_keeps_the_size_of_the_version_opened(store):
    write(store, {"log.txt": b"one\n"})
    handle, size = store.open_sized("log.txt")
    write(store, {"log.txt": b"one\ntwo\n"})
    assert (size, store.size("log.txt")) == (4, 8)
    with handle, pytest.raises(ArtifactReplaced):
        handle.read()


def test_an_empty_file_opens_and_reads_as_nothing(store):
    write(store, {"empty": b""})
    with store.open("empty") as handle:
        assert handle.read() == b""


def test_walk_yields_every_file_below_a_prefix_in_name_order(store):
    write(store, {"run/b.txt": b"bb", "run/a/z.txt": b"z", "run/a/y/x.txt": b"xxx", "run2/o.txt": b"o"})
    assert list(store.walk("run")) == [
        FileInfo("run/a/y/x.txt", False, 3),
        FileInfo("run/a/z.txt", False, 1),
        FileInfo("run/b.txt", False, 2),
    ]
    assert {info.path for info in store.walk()} == {"run2/o.txt", "run/b.txt", "run/a/z.txt", "run/a/y/x.txt"}
    assert list(store.walk("missing")) == []
    assert list(store.walk("run/b.txt")) == [FileInfo("run/b.txt", False, 2)]


# Writing


def test_it_saves_chunks_under_their_path(azurite, store):
    assert store.save("deep/er/model.pkl", [b"ab", b"", bytearray(b"cd"), memoryview(b"e")]) == 5
    assert store.open("deep/er/model.pkl").read() == b"abcde"
    assert leftovers(azurite, store) == ["deep/er/model.pkl"]


def test_it_saves_from_a_file_like_stream_in_several_blocks(store):
    content = random.Random(1).randbytes(2 * BLOCK_SIZE + 7)
    assert store.save("from-file.bin", io.BytesIO(content)) == len(content)
    assert store.size("from-file.bin") == len(content)
    assert store.open("from-file.bin").read() == content


def test_it_saves_an_empty_file(store):
    assert store.save("empty.txt", io.BytesIO(b"")) == 0
    assert store.list() == [FileInfo("empty.txt", False, 0)]


@pytest.mark.parametrize("size", [10, BLOCK_SIZE + 10], ids=["small", "past-one-block"])
def test_an_upload_that_fails_midway_leaves_nothing_behind(azurite, store, size):
    def chunks():
        yield b"x" * size
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store.save("folder/partial.bin", chunks())
    assert leftovers(azurite, store) == []
    assert not store.exists("folder/partial.bin")


def test_an_upload_that_fails_midway_keeps_the_previous_version(azurite, store):
    write(store, {"model.pkl": b"version 1"})

    def chunks():
        yield b"2" * (BLOCK_SIZE + 1)
        raise OSError("disk trouble")

    with pytest.raises(OSError, match="disk trouble"):
        store.save("model.pkl", chunks())
    assert store.open("model.pkl").read() == b"version 1"
    assert leftovers(azurite, store) == ["model.pkl"]


def test_an_upload_of_exactly_max_bytes_is_accepted(store):
    assert store.save("exact.bin", [b"x" * 10, b"y" * 15], max_bytes=25) == 25


def test_it_refuses_chunks_that_are_not_bytes(azurite, store):
    with pytest.raises(TypeError, match="bytes, not str"):
        store.save("text.txt", ["not bytes"])  # type: ignore[list-item]
    assert leftovers(azurite, store) == []


class FreshChunks(io.RawIOBase):
    """A WSGI-like input of `total` bytes: each read() builds new bytes, and b"" marks the end."""

    def __init__(self, total: int):
        self.left = total

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return os.urandom(size) if size else b""


@pytest.mark.parametrize("source", ["generator", "file-like"])
def test_a_large_upload_is_streamed_in_blocks_not_held_in_memory(store, source):
    total = 40 * CHUNK_SIZE
    digest = hashlib.sha256()

    def generated():
        for _ in range(40):
            chunk = os.urandom(CHUNK_SIZE)
            digest.update(chunk)
            yield chunk

    stream = generated() if source == "generator" else FreshChunks(total)
    tracemalloc.start()
    try:
        written = store.save("large.bin", stream)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == total == store.size("large.bin")
    # One block gathered at a time, whatever the file's size.
    assert peak < 1.5 * BLOCK_SIZE
    if source == "generator":
        with store.open("large.bin") as handle:
            read_back = hashlib.sha256()
            while chunk := handle.read(4 * CHUNK_SIZE):
                read_back.update(chunk)
        assert read_back.hexdigest() == digest.hexdigest()


# Deleting


def test_deleting_a_folder_spares_its_namesakes(azurite, store):
    write(store, {"run/a.bin": b"x", "run2/b.bin": b"yy", "run.txt": b"zzz"})
    assert store.delete("run") == 1
    assert leftovers(azurite, store) == ["run.txt", "run2/b.bin"]


def test_deleting_a_folder_of_more_files_than_one_batch_takes_them_all(azurite, store):
    files = {f"run/{index:03d}.txt": b"1234" for index in range(DELETE_BATCH_SIZE + 4)}
    write(store, {**files, "keep.txt": b"k"})
    assert store.delete("run") == 4 * len(files)
    assert leftovers(azurite, store) == ["keep.txt"]


# A store within a folder


def test_a_store_within_a_folder_sees_and_writes_only_below_it(azurite, store):
    write(store, {"workspaces/1/a.txt": b"one", "workspaces/10/b.txt": b"ten", "secret.txt": b"s"})
    inner = store.within("workspaces/1")
    assert inner.list() == [FileInfo("a.txt", False, 3)]
    assert [info.path for info in inner.walk()] == ["a.txt"]
    inner.save("new/c.txt", [b"c"])
    assert inner.delete("a.txt") == 3
    for call in (inner.open, inner.list, inner.delete):
        with pytest.raises(InvalidParameterValue):
            call("../10/b.txt")
    assert leftovers(azurite, store) == ["secret.txt", "workspaces/1/new/c.txt", "workspaces/10/b.txt"]


# Direct transfers


def test_a_presigned_url_downloads_the_file_as_an_attachment(store):
    store.save("reports/summary.csv", [b"a,b\n1,2\n"])
    url = store.presigned_download_url("reports/summary.csv", seconds=60, filename="summary é.csv")
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200 and answer.content == b"a,b\n1,2\n"
    assert answer.headers["Content-Type"] == "text/csv"
    assert answer.headers["Content-Disposition"] == "attachment; filename*=utf-8''summary%20%C3%A9.csv"

    plain = requests.get(store.presigned_download_url("reports/summary.csv", seconds=60), timeout=10)
    assert plain.content == b"a,b\n1,2\n" and "Content-Disposition" not in plain.headers


def test_a_presigned_url_reads_only_its_own_file_and_expires(store):
    write(store, {"mine.txt": b"mine", "other.txt": b"other"})
    url = store.presigned_download_url("mine.txt", seconds=2)
    assert (
        requests.put(
            url, data=b"overwritten", headers={"x-ms-blob-type": "BlockBlob"}, timeout=10
        ).status_code
        == 403
    )
    assert requests.get(url.replace("mine.txt", "other.txt"), timeout=10).status_code == 403
    time.sleep(3)
    assert requests.get(url, timeout=10).status_code == 403
    assert store.open("mine.txt").read() == b"mine"


def test_presigning_a_missing_file_or_a_folder_is_refused(store):
    write(store, {"folder/a.txt": b"x"})
    with pytest.raises(ArtifactNotFound):
        store.presigned_download_url("missing.txt", seconds=60)
    with pytest.raises(ArtifactIsADirectory):
        store.presigned_download_url("folder", seconds=60)


def put_part(part, data: bytes) -> UploadedPart:
    """What MLflow's client does with each part: PUT the bytes with the headers it was given."""
    answer = requests.put(part.url, data=data, headers=part.headers, timeout=30)
    answer.raise_for_status()
    return UploadedPart(part.part_number, answer.headers.get("ETag", ""))


def test_a_multipart_upload_appears_whole_once_completed_in_part_order(azurite, store):
    assert store.supports_direct_transfers
    pieces = [b"a" * 1000, b"b" * 1000, b"c" * 10]
    upload_id, parts = store.start_multipart("models/big.bin", len(pieces), seconds=300)
    assert [part.part_number for part in parts] == [1, 2, 3]
    # Sent in any order, as the client's threads finish them.
    uploaded = [put_part(parts[index], pieces[index]) for index in (2, 0, 1)]
    assert leftovers(azurite, store) == []
    store.complete_multipart("models/big.bin", upload_id, uploaded)
    assert store.open("models/big.bin").read() == b"".join(pieces)
    assert store.list("models") == [FileInfo("models/big.bin", False, 2010)]


def test_two_multipart_uploads_to_one_path_never_mix_their_parts(store):
    first_id, first = store.start_multipart("model.bin", 2, seconds=300)
    second_id, second = store.start_multipart("model.bin", 2, seconds=300)
    assert first_id != second_id and first[0].url != second[0].url
    first_parts = [put_part(first[0], b"1" * 5), put_part(first[1], b"1" * 5)]
    put_part(second[0], b"2" * 5)
    store.complete_multipart("model.bin", first_id, first_parts)
    assert store.open("model.bin").read() == b"1" * 10
    # The first commit dropped the second upload's blocks: it fails, the first upload stays.
    with pytest.raises(InvalidParameterValue, match="never uploaded, or the upload was overtaken"):
        store.complete_multipart("model.bin", second_id, [UploadedPart(1, ""), UploadedPart(2, "")])
    assert store.open("model.bin").read() == b"1" * 10


def test_completing_with_a_part_never_uploaded_is_refused_and_shows_nothing(azurite, store):
    upload_id, parts = store.start_multipart("model.bin", 2, seconds=300)
    uploaded = [put_part(parts[0], b"only the first")]
    with pytest.raises(InvalidParameterValue, match="never uploaded"):
        store.complete_multipart("model.bin", upload_id, [*uploaded, UploadedPart(2, "")])
    assert leftovers(azurite, store) == []


@pytest.mark.parametrize(
    ("upload_id", "numbers"),
    [("not-an-id", [1]), ("0123456789abcdef", []), ("0123456789abcdef", [1, 1]), ("0123456789abcdef", [0])],
)
def test_completing_needs_a_valid_upload_id_and_distinct_part_numbers(store, upload_id, numbers):
    with pytest.raises(InvalidParameterValue):
        store.complete_multipart("model.bin", upload_id, [UploadedPart(number, "") for number in numbers])


def test_an_aborted_multipart_upload_leaves_nothing_and_the_old_version_stays(azurite, store):
    write(store, {"model.bin": b"old"})
    upload_id, parts = store.start_multipart("model.bin", 1, seconds=300)
    put_part(parts[0], b"new but abandoned")
    store.abort_multipart("model.bin", upload_id)
    assert store.open("model.bin").read() == b"old"
    assert leftovers(azurite, store) == ["model.bin"]
    with pytest.raises(InvalidParameterValue):
        store.abort_multipart("model.bin", "../../etc")


def test_a_multipart_upload_needs_a_sensible_part_count_and_a_file_path(store):
    write(store, {"folder/a.txt": b"x"})
    for count in (0, 50_001):
        with pytest.raises(InvalidParameterValue, match="1 to 50000 parts"):
            store.start_multipart("model.bin", count, seconds=300)
    with pytest.raises(ArtifactIsADirectory):
        store.start_multipart("folder", 1, seconds=300)


def test_a_part_url_writes_only_its_own_block(store):
    write(store, {"other.bin": b"other"})
    _, [part] = store.start_multipart("model.bin", 1, seconds=300)
    assert requests.get(part.url, timeout=10).status_code == 403
    stolen = part.url.replace("model.bin", "other.bin")
    assert requests.put(stolen, data=b"x", timeout=10).status_code == 403
