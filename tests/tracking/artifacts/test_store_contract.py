"""What every artifact store does, whatever keeps the bytes: each test runs on the local disk, on
a real S3 server (moto) and on Azure Blob Storage (Azurite). Files are written and checked through the store itself; what only one
kind of store has (links on disk, multipart uploads in S3) is tested in that store's own module."""

from __future__ import annotations

import io
import uuid

import pytest

from tests.object_stores import S3_BUCKET
from tracking.artifacts import (
    CHUNK_SIZE,
    ArtifactIsADirectory,
    ArtifactNotFound,
    ArtifactStore,
    ArtifactTooLarge,
    AzureBlobArtifactStore,
    FileInfo,
    LocalArtifactStore,
    S3ArtifactStore,
)
from tracking.errors import InvalidParameterValue


@pytest.fixture(params=["local", "s3", "azure"])
def store(request, tmp_path, monkeypatch) -> ArtifactStore:
    if request.param == "local":
        return LocalArtifactStore(tmp_path / "root")
    if request.param == "s3":
        request.getfixturevalue("s3_service")
        return S3ArtifactStore(S3_BUCKET, f"contract/{uuid.uuid4().hex}")
    azurite = request.getfixturevalue("azurite")
    for name, value in azurite.environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AZURE_STORAGE_ACCESS_KEY", raising=False)
    return AzureBlobArtifactStore(f"{azurite.root_uri}/contract-{uuid.uuid4().hex}")


def write(store: ArtifactStore, files: dict[str, bytes]) -> None:
    for path, content in files.items():
        store.save(path, [content])


def files_in(store: ArtifactStore) -> dict[str, bytes]:
    contents = {}
    for info in store.walk():
        with store.open(info.path) as handle:
            contents[info.path] = handle.read()
    return contents


# Reading


def test_it_lists_direct_children_sorted_with_kinds_and_sizes(store):
    write(store, {"b.txt": b"12345", "a/inner.txt": b"x", "c d/é.bin": b"", ".hidden": b"hi"})
    assert store.list() == [
        FileInfo(".hidden", False, 2),
        FileInfo("a", True, None),
        FileInfo("b.txt", False, 5),
        FileInfo("c d", True, None),
    ]


def test_listing_a_folder_gives_paths_relative_to_the_store_root(store):
    write(store, {"1/abc/artifacts/model/MLmodel": b"m", "1/abc/artifacts/metrics.json": b"{}"})
    assert store.list("1/abc/artifacts") == [
        FileInfo("1/abc/artifacts/metrics.json", False, 2),
        FileInfo("1/abc/artifacts/model", True, None),
    ]
    assert store.list("1/abc/artifacts/") == store.list("1/abc/artifacts")


@pytest.mark.parametrize("prefix", ["missing", "missing/deeper", "file.txt", "file.txt/below", "fil", ""])
def test_listing_a_missing_prefix_or_a_file_gives_nothing(store, prefix):
    if prefix:
        write(store, {"file.txt": b"x"})
    assert store.list(prefix) == []


def test_it_opens_files_for_binary_reading_and_seeking(store):
    write(store, {"a/b.c/d e.txt": b"hello\x00world"})
    with store.open("a/b.c/d e.txt") as handle:
        assert handle.read() == b"hello\x00world"
        handle.seek(6)
        assert handle.read(3) == b"wor"
        assert handle.tell() == 9


def test_opening_a_missing_file_is_not_found(store):
    write(store, {"file.txt": b"x"})
    for path in ("missing.txt", "a/missing.txt", "file.txt/below"):
        with pytest.raises(ArtifactNotFound, match="No such artifact"):
            store.open(path)


def test_opening_or_sizing_a_directory_is_refused(store):
    write(store, {"folder/a.txt": b"x"})
    with pytest.raises(ArtifactIsADirectory, match="is a directory"):
        store.open("folder")
    with pytest.raises(ArtifactIsADirectory):
        store.size("folder")


def test_it_reports_size_kind_and_existence(store):
    write(store, {"résumé.pdf": b"%PDF-1.7", "folder/x": b""})
    assert store.size("résumé.pdf") == 8
    assert store.size("folder/x") == 0
    assert (store.is_dir("folder"), store.is_dir("résumé.pdf"), store.is_dir("no")) == (True, False, False)
    assert store.exists("résumé.pdf") and store.exists("folder") and store.exists("")
    assert not store.exists("missing")
    with pytest.raises(ArtifactNotFound):
        store.size("missing")


def test_walk_yields_every_file_below_a_prefix(store):
    write(store, {"run/b.txt": b"bb", "run/a/z.txt": b"z", "run/a/y/x.txt": b"xxx", "other.txt": b"o"})
    assert sorted(store.walk("run"), key=lambda info: info.path) == [
        FileInfo("run/a/y/x.txt", False, 3),
        FileInfo("run/a/z.txt", False, 1),
        FileInfo("run/b.txt", False, 2),
    ]
    assert {info.path for info in store.walk()} == {"other.txt", "run/b.txt", "run/a/z.txt", "run/a/y/x.txt"}
    assert list(store.walk("missing")) == []
    assert list(store.walk("run/b.txt")) == [FileInfo("run/b.txt", False, 2)]


def test_total_size_adds_up_every_file_below_a_prefix(store):
    write(store, {"run/a.bin": b"x" * 10, "run/deep/b.bin": b"y" * 5, "elsewhere.bin": b"z" * 100})
    assert store.total_size("run") == 15
    assert store.total_size() == 115
    assert store.total_size("run/a.bin") == 10
    assert store.total_size("missing") == 0


def test_a_store_within_a_prefix_sees_only_that_prefix(store):
    write(store, {"workspaces/1/a.txt": b"one", "workspaces/2/secret.txt": b"two"})
    inner = store.within("workspaces/1")
    assert inner.list() == [FileInfo("a.txt", False, 3)]
    assert [info.path for info in inner.walk()] == ["a.txt"]
    inner.save("b.txt", [b"new"])
    assert store.size("workspaces/1/b.txt") == 3
    for trick in ("../2/secret.txt", "/workspaces/2/secret.txt", "%2e%2e/2/secret.txt"):
        with pytest.raises(InvalidParameterValue):
            inner.open(trick)


# Writing


def test_it_saves_chunks_and_file_like_streams(store):
    assert store.save("deep/er/model.pkl", [b"ab", b"", bytearray(b"cd"), memoryview(b"e")]) == 5
    assert store.save("from-file.bin", io.BytesIO(b"z" * (CHUNK_SIZE * 2 + 7))) == CHUNK_SIZE * 2 + 7
    assert store.save("empty.txt", io.BytesIO(b"")) == 0
    assert files_in(store) == {
        "deep/er/model.pkl": b"abcde",
        "empty.txt": b"",
        "from-file.bin": b"z" * (CHUNK_SIZE * 2 + 7),
    }


def test_saving_over_an_existing_file_replaces_it(store):
    write(store, {"a.txt": b"old content that is longer"})
    assert store.save("a.txt", [b"new"]) == 3
    assert files_in(store) == {"a.txt": b"new"}


def test_saving_over_a_directory_is_refused(store):
    write(store, {"folder/a.txt": b"x"})
    with pytest.raises(ArtifactIsADirectory):
        store.save("folder", [b"x"])
    assert files_in(store) == {"folder/a.txt": b"x"}


@pytest.mark.parametrize("path", ["", "folder/", "../x", "a//b"])
def test_saving_needs_a_clean_file_path(store, path):
    with pytest.raises(InvalidParameterValue):
        store.save(path, [b"x"])
    assert files_in(store) == {}


def test_an_upload_that_fails_midway_keeps_the_previous_version_or_nothing(store):
    write(store, {"model.pkl": b"version 1"})

    def chunks():
        yield b"version 2, half"
        raise ConnectionResetError("client went away")

    for path in ("model.pkl", "folder/partial.bin"):
        with pytest.raises(ConnectionResetError):
            store.save(path, chunks())
    assert files_in(store) == {"model.pkl": b"version 1"}


def test_an_upload_over_max_bytes_stops_reading_and_leaves_nothing(store):
    consumed = []

    def chunks():
        for number in range(100):
            consumed.append(number)
            yield b"x" * 10

    with pytest.raises(ArtifactTooLarge, match="larger than the limit of 25 bytes"):
        store.save("big.bin", chunks(), max_bytes=25)
    assert consumed == [0, 1, 2]
    assert files_in(store) == {}
    assert store.save("exact.bin", [b"x" * 10, b"y" * 15], max_bytes=25) == 25


# Deleting


def test_deleting_a_file_returns_its_size(store):
    write(store, {"a/b.txt": b"12345", "a/c.txt": b"1"})
    assert store.delete("a/b.txt") == 5
    assert files_in(store) == {"a/c.txt": b"1"}


def test_deleting_a_folder_removes_it_all_and_returns_the_bytes_freed(store):
    write(store, {"run/a.bin": b"x" * 10, "run/deep/er/b.bin": b"y" * 7, "run.txt": b"k", "runner/c": b"c"})
    assert store.delete("run") == 17
    assert files_in(store) == {"run.txt": b"k", "runner/c": b"c"}
    assert not store.exists("run")


@pytest.mark.parametrize("path", ["missing", "a/missing", "file.txt/below", "file"])
def test_deleting_something_missing_frees_nothing(store, path):
    write(store, {"file.txt": b"x"})
    assert store.delete(path) == 0
    assert files_in(store) == {"file.txt": b"x"}


@pytest.mark.parametrize("path", ["", ".", "../x", "/etc"])
def test_deleting_the_root_or_a_path_trick_is_refused(store, path):
    write(store, {"a.txt": b"x"})
    with pytest.raises(InvalidParameterValue):
        store.delete(path)
    assert files_in(store) == {"a.txt": b"x"}
