"""The studio's import endpoints: an archive uploaded (streamed to disk) becomes a queued import."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.integration.mlruns_generator import generate
from tracking.ingest.importer import run_import
from tracking.models import Import, Run

pytestmark = pytest.mark.django_db

URL = "/api/studio/v1/workspaces/{}/imports"


@pytest.fixture
def archive_bytes(tmp_path) -> bytes:
    root = tmp_path / "store" / "mlruns"
    generate(root, runs=3, points=30, keys=1, experiments=1)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(root, arcname="mlruns")
    return buffer.getvalue()


def _uploads(settings) -> list[Path]:
    folder = Path(settings.IMPORTS_DIR) / "uploads"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_a_raw_archive_body_is_stored_and_queued(client, default_workspace, archive_bytes, settings):
    response = client.post(
        URL.format("default") + "?name=runs.tar.gz", data=archive_bytes, content_type="application/gzip"
    )

    assert response.status_code == 202, response.content
    body = response.json()
    assert (
        body["status"] == "QUEUED" and body["source_name"] == "runs.tar.gz" and body["workspace"] == "default"
    )
    assert response["Location"] == f"{URL.format('default')}/{body['id']}"
    (stored,) = _uploads(settings)
    assert stored.read_bytes() == archive_bytes
    assert Import.objects.get(pk=body["id"]).source_path == str(stored)


def test_an_uploaded_archive_is_imported_and_its_status_read_back(
    client, default_workspace, archive_bytes, settings
):
    response = client.post(URL.format("default"), {"file": _named(archive_bytes, "mlruns.tar.gz")})
    assert response.status_code == 202, response.content
    import_id = response.json()["id"]

    run_import(import_id, worker="test@here")
    status = client.get(f"{URL.format('default')}/{import_id}").json()

    assert status["status"] == "SUCCEEDED", status["error"]
    assert status["source_name"] == "mlruns.tar.gz"
    assert status["counts"]["runs"] == {"read": 3, "written": 3}
    assert status["counts"]["metrics"] == {"read": 30, "written": 30}
    assert status["done"] == status["total"] == 3
    assert Run.objects.count() == 3
    assert _uploads(settings) == []  # the archive goes once imported


def test_an_archive_over_the_limit_is_refused_and_not_kept(client, default_workspace, settings):
    settings.IMPORT_MAX_ARCHIVE_BYTES = 1000
    response = client.post(URL.format("default"), data=b"x" * 5000, content_type="application/zip")

    assert response.status_code == 413
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "larger than 1000 bytes" in response.json()["message"]
    assert _uploads(settings) == []
    assert not Import.objects.exists()


def test_a_multipart_archive_over_the_limit_is_refused_while_streaming(client, default_workspace, settings):
    settings.IMPORT_MAX_ARCHIVE_BYTES = 100_000
    big = _zip_bytes({"mlruns/0/meta.yaml": b"x" * 300_000})
    response = client.post(URL.format("default"), {"file": _named(big, "big.zip")})

    assert response.status_code == 413
    assert "larger than 100000" in response.json()["message"]
    assert _uploads(settings) == []


def test_a_request_without_an_archive_is_a_bad_request(client, default_workspace):
    response = client.post(URL.format("default"), {"note": "no file"})

    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_an_unknown_workspace_is_not_found(client, default_workspace, archive_bytes):
    response = client.post(URL.format("nowhere"), data=archive_bytes, content_type="application/gzip")

    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_an_import_of_another_workspace_is_not_found(
    client, default_workspace, make_workspace, archive_bytes
):
    make_workspace("other")
    created = client.post(URL.format("other"), data=archive_bytes, content_type="application/gzip").json()

    response = client.get(f"{URL.format('default')}/{created['id']}")

    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert client.get(f"{URL.format('other')}/{created['id']}").status_code == 200


def test_the_import_is_enqueued_once_the_row_is_committed(
    client, default_workspace, archive_bytes, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr("tracking.tasks.import_mlruns.delay", sent.append)

    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            URL.format("default"), data=archive_bytes, content_type="application/gzip"
        ).json()

    assert sent == [created["id"]]
    assert Import.objects.get(pk=created["id"]).enqueued_at is not None


def _named(data: bytes, name: str) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def _zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()
