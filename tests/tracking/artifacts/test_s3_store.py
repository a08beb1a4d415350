"""S3ArtifactStore against a real S3 server (moto): what object stores add to the contract that
test_store_contract.py checks on every store, namely byte ranges, uploads in parts, batched
deletes, paginated listings, and the direct transfers (presigned URLs, multipart uploads)."""

from __future__ import annotations

import os
import tracemalloc
import uuid

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured

from tests.object_stores import S3_BUCKET
from tracking.artifacts import (
    ArtifactIsADirectory,
    ArtifactReplaced,
    DirectTransfersUnsupported,
    FileInfo,
    LocalArtifactStore,
    S3ArtifactStore,
    UploadedPart,
    store_for,
)
from tracking.artifacts import s3 as s3_module
from tracking.errors import InvalidParameterValue

MiB = 1024 * 1024


@pytest.fixture
def store(s3_service) -> S3ArtifactStore:
    return S3ArtifactStore(S3_BUCKET, f"unit/{uuid.uuid4().hex}")


@pytest.fixture
def calls(store, monkeypatch):
    """The S3 operations the store makes, by name, with their arguments."""
    made: list[tuple[str, dict]] = []
    for operation in ("get_object", "put_object", "upload_part", "delete_objects", "list_objects_v2"):
        original = getattr(store.client, operation)

        def record(*args, _operation=operation, _original=original, **kwargs):
            # Not the bodies: holding them would be the memory the tests measure.
            made.append((_operation, {key: value for key, value in kwargs.items() if key != "Body"}))
            return _original(*args, **kwargs)

        monkeypatch.setattr(store.client, operation, record)
    return made


def keys_under(store: S3ArtifactStore) -> list[str]:
    listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=f"{store.prefix}/")
    return [item["Key"] for item in listed.get("Contents", [])]


def uploads_in_progress(store: S3ArtifactStore) -> list[str]:
    listed = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=f"{store.prefix}/")
    return [upload["Key"] for upload in listed.get("Uploads", [])]


# The URI and the keys


def test_an_s3_uri_gives_an_s3_store_of_its_bucket_and_prefix(s3_service):
    store = store_for("s3://some-bucket/deep/prefix/")
    assert isinstance(store, S3ArtifactStore)
    assert (store.bucket, store.prefix) == ("some-bucket", "deep/prefix")
    assert store_for("s3://some-bucket").prefix == ""


def test_an_s3_uri_without_a_bucket_is_refused(s3_service):
    with pytest.raises(InvalidParameterValue, match="needs a bucket"):
        store_for("s3:///prefix")


def test_every_key_is_the_prefix_and_a_clean_path(store):
    store.within("workspaces/7").save("1/run/artifacts/model.pkl", [b"m"])
    assert keys_under(store) == [f"{store.prefix}/workspaces/7/1/run/artifacts/model.pkl"]


def test_stores_share_one_client(store):
    assert store.within("a").client is store.client is store_for("s3://other/x").client


def test_a_store_without_credentials_is_refused_before_any_request(monkeypatch):
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:3")  # a client of its own, not the cached one
    with pytest.raises(ImproperlyConfigured, match="No S3 credentials"):
        store_for("s3://bucket/prefix")


def test_mlflows_endpoint_variable_wins_over_boto3s(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", "http://127.0.0.1:2")
    assert s3_module.s3_client().meta.endpoint_url == "http://127.0.0.1:2"
    monkeypatch.delenv("MLFLOW_S3_ENDPOINT_URL")
    assert s3_module.s3_client().meta.endpoint_url == "http://127.0.0.1:1"


# Reading


def test_opening_reads_only_the_byte_ranges_asked_for(store, calls):
    content = os.urandom(5 * MiB)
    store.save("big.bin", [content])
    with store.open("big.bin") as handle:
        handle.seek(3 * MiB + 10)
        assert handle.read(100) == content[3 * MiB + 10 : 3 * MiB + 110]
        handle.seek(-4, os.SEEK_END)
        assert handle.read() == content[-4:]
    ranges = [kwargs["Range"] for operation, kwargs in calls if operation == "get_object"]
    assert ranges == [f"bytes={3 * MiB + 10}-{4 * MiB + 9}", f"bytes={5 * MiB - 4}-{5 * MiB - 1}"]


def test_a_file_replaced_while_it_is_read_is_an_error_not_a_mix_of_versions(store):
    store.save("model.bin", [b"a" * (3 * MiB)])
    with store.open("model.bin") as handle:
        assert handle.read(10) == b"a" * 10
        store.save("model.bin", [b"b" * (3 * MiB)])
        handle.seek(2 * MiB)
        with pytest.raises(ArtifactReplaced, match="was replaced while it was read"):
            handle.read(10)


def test_a_file_opened_with_its_size_keeps_the_size_of_the_version_opened(store):
    store.save("log.txt", [b"one\n"])
    handle, size = store.open_sized("log.txt")
    store.save("log.txt", [b"one\ntwo\n"])
    assert (size, store.size("log.txt")) == (4, 8)
    with handle, pytest.raises(ArtifactReplaced):
        handle.read()


def test_listing_and_walking_follow_every_page(store, calls, monkeypatch):
    monkeypatch.setattr(s3_module, "LIST_PAGE", 2)
    for path in ("a.txt", "b.txt", "c.txt", "d/1", "e/1", "f/1", "f/2", "f/3"):
        store.save(path, [b"x"])
    assert [(info.path, info.is_dir) for info in store.list()] == [
        ("a.txt", False), ("b.txt", False), ("c.txt", False), ("d", True), ("e", True), ("f", True),
    ]  # fmt: skip
    assert [info.path for info in store.walk("f")] == ["f/1", "f/2", "f/3"]
    assert sum(operation == "list_objects_v2" for operation, _ in calls) > 4


def test_walk_goes_in_key_order(store):
    for path in ("run/b.txt", "run/a/z.txt", "run/a/y/x.txt"):
        store.save(path, [b"x"])
    assert list(store.walk("run")) == [
        FileInfo("run/a/y/x.txt", False, 1),
        FileInfo("run/a/z.txt", False, 1),
        FileInfo("run/b.txt", False, 1),
    ]


# Writing


def test_a_small_upload_is_one_put(store, calls):
    assert store.save("small.bin", [b"x" * MiB, b"y"]) == MiB + 1
    assert [operation for operation, _ in calls if operation in ("put_object", "upload_part")] == [
        "put_object"
    ]


def test_a_large_upload_goes_in_parts_without_being_held_in_memory(store, calls):
    total = 64 * MiB
    # Each chunk is a new object: a store that kept them all would hold 64 MiB at its peak.
    chunks = (os.urandom(MiB) for _ in range(64))
    tracemalloc.start()
    try:
        written = store.save("large.bin", chunks)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == total == store.size("large.bin")
    parts = [kwargs["PartNumber"] for operation, kwargs in calls if operation == "upload_part"]
    assert parts == [1, 2, 3, 4, 5, 6, 7, 8]  # 8 MiB each
    # One part being filled, one being sent: the same for a file of any size.
    assert peak < 3 * s3_module.PART_SIZE


def test_a_large_upload_that_fails_midway_is_aborted_leaving_nothing(store):
    store.save("model.pkl", [b"version 1"])

    def chunks():
        for _ in range(20):
            yield b"x" * MiB
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store.save("model.pkl", chunks())
    with pytest.raises(ConnectionResetError):
        store.save("other.pkl", chunks())
    assert keys_under(store) == [f"{store.prefix}/model.pkl"]
    assert store.open("model.pkl").read() == b"version 1"
    assert uploads_in_progress(store) == []


# Deleting


def test_deleting_a_folder_goes_in_batches(store, calls, monkeypatch):
    monkeypatch.setattr(s3_module, "DELETE_BATCH", 2)
    monkeypatch.setattr(s3_module, "LIST_PAGE", 2)
    for number in range(5):
        store.save(f"run/{number}.bin", [b"x" * number])
    store.save("run.bin", [b"kept"])
    assert store.delete("run") == 0 + 1 + 2 + 3 + 4
    batches = [
        len(kwargs["Delete"]["Objects"]) for operation, kwargs in calls if operation == "delete_objects"
    ]
    assert batches == [2, 2, 1]
    assert keys_under(store) == [f"{store.prefix}/run.bin"]


# Direct transfers


def test_a_presigned_url_reads_the_file_as_an_attachment(store):
    store.save("plots/évil.html", [b"<script>alert(1)</script>"])
    url = store.presigned_download_url("plots/évil.html", seconds=60, filename="évil.html")
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200 and answer.content == b"<script>alert(1)</script>"
    assert answer.headers["Content-Disposition"] == (
        "attachment; filename=\"_vil.html\"; filename*=UTF-8''%C3%A9vil.html"
    )
    assert "X-Amz-Expires=60" in url


def test_a_presigned_url_needs_a_clean_file_path(store):
    with pytest.raises(InvalidParameterValue):
        store.presigned_download_url("../secret", seconds=60)


def test_a_multipart_upload_assembles_the_parts_the_client_sends(store):
    upload_id, urls = store.start_multipart("models/big.bin", 2, seconds=60)
    assert [url.part_number for url in urls] == [1, 2]
    assert uploads_in_progress(store) == [f"{store.prefix}/models/big.bin"]
    first, second = os.urandom(5 * MiB), b"tail"
    etags = [
        requests.put(url.url, data=body, timeout=30).headers["ETag"]
        for url, body in zip(urls, (first, second), strict=True)
    ]
    store.complete_multipart(
        "models/big.bin", upload_id, [UploadedPart(number, etag) for number, etag in enumerate(etags, 1)]
    )
    assert store.open("models/big.bin").read() == first + second
    assert uploads_in_progress(store) == []


def test_an_aborted_multipart_upload_leaves_nothing(store):
    upload_id, urls = store.start_multipart("big.bin", 1, seconds=60)
    requests.put(urls[0].url, data=b"part", timeout=30).raise_for_status()
    store.abort_multipart("big.bin", upload_id)
    store.abort_multipart("big.bin", upload_id)  # again: already done
    assert keys_under(store) == [] and uploads_in_progress(store) == []


def test_completing_with_parts_that_were_not_uploaded_is_invalid(store):
    upload_id, urls = store.start_multipart("big.bin", 1, seconds=60)
    requests.put(urls[0].url, data=b"part", timeout=30).raise_for_status()
    with pytest.raises(InvalidParameterValue, match="do not fit together"):
        store.complete_multipart("big.bin", upload_id, [UploadedPart(1, '"0123456789abcdef"')])
    store.abort_multipart("big.bin", upload_id)


def test_a_multipart_upload_over_a_folder_is_refused(store):
    store.save("model/MLmodel", [b"m"])
    with pytest.raises(ArtifactIsADirectory):
        store.start_multipart("model", 2, seconds=60)
    assert uploads_in_progress(store) == []


@pytest.mark.parametrize("parts", [0, -1, 10_001])
def test_a_multipart_upload_has_one_to_ten_thousand_parts(store, parts):
    with pytest.raises(InvalidParameterValue, match="1 to 10000 parts"):
        store.start_multipart("big.bin", parts, seconds=60)
    assert uploads_in_progress(store) == []


def test_the_local_store_offers_no_direct_transfers(tmp_path):
    store = LocalArtifactStore(tmp_path)
    assert not store.supports_direct_transfers
    assert store.presigned_download_url("a.txt", seconds=60) is None
    with pytest.raises(DirectTransfersUnsupported) as raised:
        store.start_multipart("a.txt", 2, seconds=60)
    assert raised.value.http_status == 501
    assert str(raised.value.message).startswith("Multipart upload is not supported")


def test_signed_urls_name_the_public_endpoint_when_one_is_set(s3_service, monkeypatch):
    # Signing sends nothing: the URL is for a client that reaches the store at another address.
    monkeypatch.setenv("STUDIO_S3_PUBLIC_ENDPOINT_URL", "http://files.example.com:9000")
    store = S3ArtifactStore(S3_BUCKET, f"unit/{uuid.uuid4().hex}")
    url = store.within("a").presigned_download_url("b.txt", seconds=60)
    assert url.startswith(f"http://files.example.com:9000/{S3_BUCKET}/{store.prefix}/a/b.txt?")
    assert store.client.meta.endpoint_url == s3_service.environment["AWS_ENDPOINT_URL"]
