"""LocalArtifactStore: files under one folder, streamed in, renamed into place, never escaping the root."""

from __future__ import annotations

import io
import os
import tracemalloc
from pathlib import Path

import pytest

from tracking.artifacts import (
    CHUNK_SIZE,
    ArtifactIsADirectory,
    ArtifactNotFound,
    ArtifactReplaced,
    ArtifactStore,
    ArtifactTooLarge,
    FileInfo,
    LocalArtifactStore,
    default_store,
    register_store_class,
    store_for,
)
from tracking.artifacts.base import iter_chunks
from tracking.errors import (
    InvalidParameterValue,
    RequestTooLarge,
    ResourceDoesNotExist,
    TemporarilyUnavailable,
)


@pytest.fixture
def root(tmp_path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    return folder


@pytest.fixture
def store(root) -> LocalArtifactStore:
    return LocalArtifactStore(root)


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder beside the root with a secret in it, and links to both from inside the root."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_bytes(b"secret")
    (tmp_path / "root" / "link_dir").symlink_to(folder, target_is_directory=True)
    (tmp_path / "root" / "link_file").symlink_to(folder / "secret.txt")
    return folder


def write(root: Path, files: dict[str, bytes]) -> None:
    for relative, content in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)


def leftovers(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


# Reading


def test_it_lists_direct_children_sorted_with_kinds_and_sizes(store, root):
    write(root, {"b.txt": b"12345", "a/inner.txt": b"x", "c d/é.bin": b"", ".hidden": b"hi"})
    assert store.list() == [
        FileInfo(".hidden", False, 2),
        FileInfo("a", True, None),
        FileInfo("b.txt", False, 5),
        FileInfo("c d", True, None),
    ]


def test_listing_a_folder_gives_paths_relative_to_the_store_root(store, root):
    write(root, {"1/abc/artifacts/model/MLmodel": b"m", "1/abc/artifacts/metrics.json": b"{}"})
    assert store.list("1/abc/artifacts") == [
        FileInfo("1/abc/artifacts/metrics.json", False, 2),
        FileInfo("1/abc/artifacts/model", True, None),
    ]
    assert store.list("1/abc/artifacts/") == store.list("1/abc/artifacts")


@pytest.mark.parametrize("prefix", ["missing", "missing/deeper", "file.txt", "file.txt/below"])
def test_listing_a_missing_prefix_or_a_file_gives_nothing(store, root, prefix):
    write(root, {"file.txt": b"x"})
    assert store.list(prefix) == []


def test_listing_a_root_that_does_not_exist_yet_gives_nothing(tmp_path):
    assert LocalArtifactStore(tmp_path / "not-yet").list() == []


def test_it_opens_files_for_binary_reading(store, root):
    write(root, {"a/b.c/d e.txt": b"hello\x00world"})
    with store.open("a/b.c/d e.txt") as handle:
        assert handle.read() == b"hello\x00world"


def test_a_file_opened_with_its_size_reads_the_version_opened_whole(store):
    """A save replaces the file, so the open one still holds the bytes and the size it had."""
    store.save("log.txt", [b"one\n"])
    handle, size = store.open_sized("log.txt")
    store.save("log.txt", [b"one\ntwo\n"])
    with handle:
        assert (handle.read(), size, store.size("log.txt")) == (b"one\n", 4, 8)


def test_opening_a_missing_file_is_not_found(store, root):
    write(root, {"file.txt": b"x"})
    for path in ("missing.txt", "a/missing.txt", "file.txt/below"):
        with pytest.raises(ArtifactNotFound, match="No such artifact"):
            store.open(path)


def test_opening_or_sizing_a_directory_is_refused(store, root):
    write(root, {"folder/a.txt": b"x"})
    with pytest.raises(ArtifactIsADirectory, match="is a directory"):
        store.open("folder")
    with pytest.raises(ArtifactIsADirectory):
        store.size("folder")


def test_errors_carry_their_mlflow_meaning():
    assert issubclass(ArtifactNotFound, ResourceDoesNotExist) and ArtifactNotFound.http_status == 404
    assert issubclass(ArtifactIsADirectory, InvalidParameterValue) and ArtifactIsADirectory.http_status == 400
    assert issubclass(ArtifactTooLarge, RequestTooLarge) and ArtifactTooLarge.http_status == 413
    assert issubclass(ArtifactReplaced, TemporarilyUnavailable) and ArtifactReplaced.http_status == 503


def test_it_reports_size_kind_and_existence(store, root):
    write(root, {"résumé.pdf": b"%PDF-1.7", "folder/x": b""})
    assert store.size("résumé.pdf") == 8
    assert store.size("folder/x") == 0
    assert (store.is_dir("folder"), store.is_dir("résumé.pdf"), store.is_dir(""), store.is_dir("no")) == (
        True,
        False,
        True,
        False,
    )
    assert store.exists("résumé.pdf") and store.exists("folder") and store.exists("")
    assert not store.exists("missing")
    with pytest.raises(ArtifactNotFound):
        store.size("missing")


def test_walk_yields_every_file_below_a_prefix_in_a_stable_order(store, root):
    write(root, {"run/b.txt": b"bb", "run/a/z.txt": b"z", "run/a/y/x.txt": b"xxx", "other.txt": b"o"})
    (root / "run" / "empty").mkdir()
    assert list(store.walk("run")) == [
        FileInfo("run/b.txt", False, 2),
        FileInfo("run/a/z.txt", False, 1),
        FileInfo("run/a/y/x.txt", False, 3),
    ]
    assert {info.path for info in store.walk()} == {"other.txt", "run/b.txt", "run/a/z.txt", "run/a/y/x.txt"}
    assert list(store.walk("missing")) == []
    assert list(store.walk("run/b.txt")) == [FileInfo("run/b.txt", False, 2)]


def test_total_size_adds_up_every_file_below_a_prefix(store, root):
    write(root, {"run/a.bin": b"x" * 10, "run/deep/b.bin": b"y" * 5, "elsewhere.bin": b"z" * 100})
    assert store.total_size("run") == 15
    assert store.total_size() == 115
    assert store.total_size("run/a.bin") == 10
    assert store.total_size("missing") == 0


def test_local_path_points_at_the_file_on_disk(store, root):
    write(root, {"a/b.txt": b"x"})
    assert store.local_path("a/b.txt") == root.resolve() / "a" / "b.txt"
    assert store.local_path("") == root.resolve()


# Writing


def test_it_saves_chunks_creating_parent_folders(store, root):
    assert store.save("deep/er/model.pkl", [b"ab", b"", bytearray(b"cd"), memoryview(b"e")]) == 5
    assert (root / "deep" / "er" / "model.pkl").read_bytes() == b"abcde"


def test_it_saves_from_a_file_like_stream(store, root):
    assert store.save("from-file.bin", io.BytesIO(b"z" * (CHUNK_SIZE * 2 + 7))) == CHUNK_SIZE * 2 + 7
    assert store.size("from-file.bin") == CHUNK_SIZE * 2 + 7


def test_it_saves_an_empty_file(store, root):
    assert store.save("empty.txt", io.BytesIO(b"")) == 0
    assert (root / "empty.txt").read_bytes() == b""


def test_saving_over_an_existing_file_replaces_it(store, root):
    write(root, {"a.txt": b"old content that is longer"})
    assert store.save("a.txt", [b"new"]) == 3
    assert (root / "a.txt").read_bytes() == b"new"
    assert leftovers(root) == ["a.txt"]


def test_saving_over_a_directory_is_refused(store, root):
    write(root, {"folder/a.txt": b"x"})
    with pytest.raises(ArtifactIsADirectory):
        store.save("folder", [b"x"])
    assert (root / "folder" / "a.txt").read_bytes() == b"x"


def test_saving_below_a_file_is_refused(store, root):
    write(root, {"a.txt": b"x"})
    with pytest.raises(InvalidParameterValue, match="a folder on its path is a file"):
        store.save("a.txt/b.txt", [b"y"])


@pytest.mark.parametrize("path", ["", "folder/", "../x", "a//b"])
def test_saving_needs_a_clean_file_path(store, root, path):
    with pytest.raises(InvalidParameterValue):
        store.save(path, [b"x"])
    assert leftovers(root) == []


def test_an_upload_that_fails_midway_leaves_nothing_behind(store, root):
    def chunks():
        yield b"first part"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store.save("folder/partial.bin", chunks())
    assert leftovers(root) == ["folder"]


def test_an_upload_that_fails_midway_keeps_the_previous_version(store, root):
    write(root, {"model.pkl": b"version 1"})

    def chunks():
        yield b"version 2, half"
        raise OSError("disk trouble")

    with pytest.raises(OSError, match="disk trouble"):
        store.save("model.pkl", chunks())
    assert (root / "model.pkl").read_bytes() == b"version 1"
    assert leftovers(root) == ["model.pkl"]


def test_an_upload_over_max_bytes_stops_reading_and_leaves_nothing(store, root):
    consumed = []

    def chunks():
        for number in range(100):
            consumed.append(number)
            yield b"x" * 10

    with pytest.raises(ArtifactTooLarge, match="larger than the limit of 25 bytes"):
        store.save("big.bin", chunks(), max_bytes=25)
    assert consumed == [0, 1, 2]
    assert leftovers(root) == []


def test_an_upload_of_exactly_max_bytes_is_accepted(store):
    assert store.save("exact.bin", [b"x" * 10, b"y" * 15], max_bytes=25) == 25


def test_it_refuses_chunks_that_are_not_bytes(store, root):
    with pytest.raises(TypeError, match="bytes, not str"):
        store.save("text.txt", ["not bytes"])  # type: ignore[list-item]
    assert leftovers(root) == []


def test_uploads_in_progress_are_hidden_and_reserved(store, root):
    write(
        root, {"a.txt": b"x", ".a.txt.0123456789abcdef.part": b"half", "sub/.b.fedcba9876543210.part": b"h"}
    )
    assert [info.path for info in store.list()] == ["a.txt", "sub"]
    assert store.list("sub") == []
    assert [info.path for info in store.walk()] == ["a.txt"]
    for call in (store.open, store.exists, lambda path: store.save(path, [b"x"])):
        with pytest.raises(InvalidParameterValue, match="reserved for uploads in progress"):
            call(".a.txt.0123456789abcdef.part")


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


class SocketLike(io.RawIOBase):
    """An upload's body as the web server hands it: readinto() fills at most `per_call` bytes."""

    def __init__(self, data: bytes, per_call: int = 64 * 1024):
        self.data, self.position, self.per_call, self.calls = memoryview(data), 0, per_call, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self.calls += 1
        count = min(len(buffer), self.per_call, len(self.data) - self.position)
        buffer[:count] = self.data[self.position : self.position + count]
        self.position += count
        return count


class FreshInto(SocketLike):
    """`total` random bytes through readinto, never all in memory at once."""

    def __init__(self, total: int):
        super().__init__(b"", CHUNK_SIZE)
        self.left = total

    def readinto(self, buffer) -> int:
        count = min(len(buffer), self.left)
        buffer[:count] = os.urandom(count)
        self.left -= count
        return count


def test_an_upload_received_in_small_pieces_is_written_in_full_chunks():
    data = os.urandom(3 * CHUNK_SIZE + 123)
    source = SocketLike(data)

    chunks = list(iter_chunks(source))

    assert [len(chunk) for chunk in chunks] == [CHUNK_SIZE] * 3 + [123]
    assert b"".join(chunks) == data
    # Each piece is received once, straight into its chunk, and one more call finds the end.
    assert source.calls == len(data) // source.per_call + 2


def test_each_chunk_is_a_buffer_of_its_own_that_the_store_may_keep():
    chunks = list(iter_chunks(SocketLike(b"a" * CHUNK_SIZE + b"b" * CHUNK_SIZE)))

    assert chunks == [b"a" * CHUNK_SIZE, b"b" * CHUNK_SIZE]


def test_a_stream_that_implements_read_only_is_still_read():
    assert b"".join(iter_chunks(FreshChunks(CHUNK_SIZE + 5))) != b""
    assert sum(len(chunk) for chunk in iter_chunks(FreshChunks(CHUNK_SIZE + 5))) == CHUNK_SIZE + 5


@pytest.mark.parametrize("source", ["generator", "file-like", "readinto"])
def test_a_large_upload_is_streamed_not_held_in_memory(store, root, source):
    total = 64 * CHUNK_SIZE
    # Each chunk is a new object: a store that kept them all would hold 64 MiB at its peak.
    stream = {
        "generator": lambda: (os.urandom(CHUNK_SIZE) for _ in range(64)),
        "file-like": lambda: FreshChunks(total),
        "readinto": lambda: FreshInto(total),
    }[source]()
    tracemalloc.start()
    try:
        written = store.save("large.bin", stream)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == total == (root / "large.bin").stat().st_size
    assert peak < 8 * CHUNK_SIZE


# Deleting


def test_deleting_a_file_returns_its_size(store, root):
    write(root, {"a/b.txt": b"12345", "a/c.txt": b"1"})
    assert store.delete("a/b.txt") == 5
    assert leftovers(root) == ["a", "a/c.txt"]


def test_deleting_a_folder_removes_it_all_and_returns_the_bytes_freed(store, root):
    write(root, {"run/a.bin": b"x" * 10, "run/deep/er/b.bin": b"y" * 7, "keep.txt": b"k"})
    assert store.delete("run") == 17
    assert leftovers(root) == ["keep.txt"]


def test_deleting_the_last_file_keeps_its_folder(store, root):
    write(root, {"a/b.txt": b"x"})
    store.delete("a/b.txt")
    assert leftovers(root) == ["a"]


@pytest.mark.parametrize("path", ["missing", "a/missing", "file.txt/below"])
def test_deleting_something_missing_frees_nothing(store, root, path):
    write(root, {"file.txt": b"x"})
    assert store.delete(path) == 0


@pytest.mark.parametrize("path", ["", ".", "../x", "/etc"])
def test_deleting_the_root_or_a_path_trick_is_refused(store, root, path):
    write(root, {"a.txt": b"x"})
    with pytest.raises(InvalidParameterValue):
        store.delete(path)
    assert leftovers(root) == ["a.txt"]


# Symlinks leading out of the root


def test_a_link_leading_outside_cannot_be_read(store, outside):
    for path in ("link_file", "link_dir/secret.txt"):
        with pytest.raises(InvalidParameterValue, match=r"^Invalid path$"):
            store.open(path)
        with pytest.raises(InvalidParameterValue):
            store.size(path)
        with pytest.raises(InvalidParameterValue):
            store.exists(path)
        with pytest.raises(InvalidParameterValue):
            store.local_path(path)


def test_a_link_leading_outside_cannot_be_listed_or_walked(store, root, outside):
    write(root, {"mine.txt": b"m"})
    with pytest.raises(InvalidParameterValue):
        store.list("link_dir")
    with pytest.raises(InvalidParameterValue):
        store.walk("link_dir")
    assert store.list() == [FileInfo("mine.txt", False, 1)]
    assert list(store.walk()) == [FileInfo("mine.txt", False, 1)]
    assert store.total_size() == 1


def test_nothing_can_be_written_through_a_link_leading_outside(store, outside):
    for path in ("link_dir/new.txt", "link_dir/secret.txt", "link_file"):
        with pytest.raises(InvalidParameterValue):
            store.save(path, [b"overwritten"])
    assert leftovers(outside) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"secret"


def test_deleting_a_link_removes_the_link_only(store, root, outside):
    assert store.delete("link_dir") == 0
    assert store.delete("link_file") == 0
    assert leftovers(root) == []
    assert (outside / "secret.txt").read_bytes() == b"secret"


def test_deleting_through_a_link_is_refused(store, outside):
    with pytest.raises(InvalidParameterValue):
        store.delete("link_dir/secret.txt")
    assert (outside / "secret.txt").exists()


def test_deleting_a_folder_never_follows_a_link_inside_it(store, root, outside):
    write(root, {"run/own.bin": b"1234"})
    (root / "run" / "escape").symlink_to(outside, target_is_directory=True)
    (root / "run" / "escape_file").symlink_to(outside / "secret.txt")
    assert store.delete("run") == 4
    assert not (root / "run").exists()
    assert (outside / "secret.txt").read_bytes() == b"secret"


def test_a_link_that_stays_inside_the_root_works_like_its_target(store, root):
    write(root, {"real/data.txt": b"data"})
    (root / "alias").symlink_to(root / "real", target_is_directory=True)
    with store.open("alias/data.txt") as handle:
        assert handle.read() == b"data"
    assert store.list("alias") == [FileInfo("alias/data.txt", False, 4)]
    assert FileInfo("alias", True, None) in store.list()


def test_a_link_deep_in_a_path_is_followed_only_while_it_stays_inside(store, root, outside):
    write(root, {"run/model/MLmodel": b"flavors: {}"})
    (root / "run" / "model" / "escape").symlink_to(outside, target_is_directory=True)
    (root / "run" / "same").symlink_to(root / "run" / "model", target_is_directory=True)
    with pytest.raises(InvalidParameterValue, match=r"^Invalid path$"):
        store.open("run/model/escape/secret.txt")
    with store.open("run/same/MLmodel") as handle:
        assert handle.read() == b"flavors: {}"
    # Below a missing folder or a file nothing can be a link: the path is simply not there.
    assert not store.exists("run/missing/escape/secret.txt")
    assert not store.exists("run/model/MLmodel/secret.txt")


def test_a_walk_keeps_links_to_files_inside_and_enters_no_linked_folder(store, root, outside):
    write(root, {"run/a.txt": b"aaa", "run/sub/b.txt": b"b", "shared.bin": b"12345"})
    (root / "run" / "to_shared").symlink_to(root / "shared.bin")
    (root / "run" / "to_secret").symlink_to(outside / "secret.txt")
    (root / "run" / "broken").symlink_to(root / "nowhere")
    (root / "run" / "sub_again").symlink_to(root / "run" / "sub", target_is_directory=True)
    (root / "run" / "escape").symlink_to(outside, target_is_directory=True)

    assert list(store.walk("run")) == [
        FileInfo("run/a.txt", False, 3),
        FileInfo("run/to_shared", False, 5),  # the size of what it leads to
        FileInfo("run/sub/b.txt", False, 1),
    ]


def test_a_root_reached_through_a_link_still_works(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path / "real", target_is_directory=True)
    store = LocalArtifactStore(tmp_path / "linked")
    store.save("a/b.txt", [b"x"])
    assert store.list("a") == [FileInfo("a/b.txt", False, 1)]
    assert (tmp_path / "real" / "a" / "b.txt").exists()


# Finding a store


@pytest.mark.parametrize("form", ["plain", "path", "file-uri", "localhost-uri"])
def test_a_folder_or_a_file_uri_gives_a_local_store(root, form):
    uri = {
        "plain": str(root),
        "path": root,
        "file-uri": root.as_uri(),
        "localhost-uri": f"file://localhost{root}",
    }[form]
    store = store_for(uri)
    assert isinstance(store, LocalArtifactStore)
    assert store.root == root.resolve()


def test_a_file_uri_on_another_host_is_refused():
    with pytest.raises(InvalidParameterValue, match="another host"):
        store_for("file://elsewhere/srv/artifacts")


def test_an_unknown_scheme_is_refused_naming_the_known_ones():
    with pytest.raises(InvalidParameterValue, match=r"'gs'.*known schemes: file"):
        store_for("gs://bucket/prefix")


class RememberingStore(ArtifactStore):
    """Stands in for a remote backend: it only needs to be built from its URI."""

    def __init__(self, uri: str):
        self.uri = uri

    # Plain attributes satisfy the ABC: these tests never read or write through this store.
    _within = _list = _open_sized = _size = _is_dir = _exists = _save = _delete = _walk = None  # type: ignore[assignment]


def test_a_registered_scheme_is_served_by_its_class(monkeypatch):
    import tracking.artifacts as artifacts

    monkeypatch.setattr(artifacts, "_store_classes", dict(artifacts._store_classes))
    register_store_class("S3", RememberingStore)
    store = store_for("s3://bucket/prefix")
    assert isinstance(store, RememberingStore) and store.uri == "s3://bucket/prefix"
    assert store.local_path("a.txt") is None


def test_the_default_store_follows_the_setting_and_creates_the_folder(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "first"
    first = default_store()
    assert first.root == (tmp_path / "first").resolve() and (tmp_path / "first").is_dir()
    assert default_store() is first
    settings.ARTIFACT_ROOT = tmp_path / "second"
    assert default_store().root == (tmp_path / "second").resolve()
