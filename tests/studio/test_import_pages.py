"""The Imports area: the list with its upload form, and an import's page with its report."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from tests.conftest import ensure_default_workspace
from tests.integration.mlruns_generator import generate
from tracking.ingest.importer import run_import
from tracking.models import Import
from tracking.services.imports import create_import

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def folders(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    settings.IMPORTS_DIR = tmp_path / "imports"


@pytest.fixture
def workspace(db):
    return ensure_default_workspace()


@pytest.fixture
def archive(tmp_path) -> io.BytesIO:
    root = tmp_path / "store" / "mlruns"
    generate(root, runs=2, points=20, keys=1, experiments=1)
    (root / "100" / "broken").mkdir()
    (root / "100" / "broken" / "meta.yaml").write_text("run_id: [\n")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(root, arcname="mlruns")
    buffer.seek(0)
    buffer.name = "my-runs.tar.gz"
    return buffer


def _row(workspace, **fields) -> Import:
    row = create_import(
        workspace=workspace, source_kind=Import.FOLDER, source_path="/data/mlruns", enqueue=False
    )
    Import.objects.filter(pk=row.pk).update(**fields)
    row.refresh_from_db()
    return row


def _csrf_client() -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/ws/default/imports/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    return client, token


def test_the_list_shows_each_import_with_its_status_progress_and_counts(client, workspace):
    _row(workspace, status="RUNNING", done=3, total=10, stage="runs of experiment 1 (a)")
    _row(
        workspace,
        status="SUCCEEDED",
        done=4,
        total=4,
        counts={"runs": {"read": 4, "written": 4}, "metrics": {"read": 900, "written": 800}},
        problem_count=2,
    )
    _row(workspace, status="FAILED", error="The archive is corrupt or not a .zip/.tar.gz: bad")

    response = client.get("/ws/default/imports/")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="badge import-') == 3
    assert ">running<" in html and ">succeeded<" in html and ">failed<" in html
    assert 'value="30"' in html  # the running import's bar: 3 of 10
    assert "800 <span" in html and "of 900 read" in html
    assert "The archive is corrupt" in html
    assert 'href="/ws/default/imports/"' in html and "aria-current" in html


def test_the_list_takes_the_same_few_queries_whatever_the_number_of_imports(
    client, workspace, django_assert_max_num_queries
):
    for index in range(30):
        _row(workspace, status="SUCCEEDED", counts={"runs": {"read": index, "written": index}})

    with django_assert_max_num_queries(4):
        response = client.get("/ws/default/imports/")

    assert response.content.decode().count('class="badge import-') == 30


def test_the_list_shows_only_the_workspace_s_imports(client, workspace, make_workspace):
    other = make_workspace("other")
    _row(other, status="SUCCEEDED")

    html = client.get("/ws/default/imports/").content.decode()

    assert "No imports yet." in html
    assert client.get("/ws/nowhere/imports/").status_code == 404


def test_uploading_an_archive_queues_its_import_and_shows_its_page(workspace, archive, settings):
    client, token = _csrf_client()

    response = client.post("/ws/default/imports/", {"file": archive, "csrfmiddlewaretoken": token})

    row = Import.objects.get()
    assert response.status_code == 303
    assert response["Location"] == f"/ws/default/imports/{row.pk}/"
    assert row.status == "QUEUED" and row.source_kind == "archive" and row.source_name == "my-runs.tar.gz"
    assert Path(row.source_path).parent == Path(settings.IMPORTS_DIR) / "uploads"
    page = client.get(response["Location"]).content.decode()
    assert "queued" in page and "Cancel the import" in page
    assert f'data-status-url="/api/studio/v1/workspaces/default/imports/{row.pk}"' in page


def test_an_upload_without_the_csrf_token_is_refused(workspace, archive, settings):
    client = Client(enforce_csrf_checks=True)

    response = client.post("/ws/default/imports/", {"file": archive})

    assert response.status_code == 403
    assert not Import.objects.exists()


def test_an_upload_without_a_file_or_too_large_says_why(workspace, archive, settings):
    client, token = _csrf_client()

    empty = client.post("/ws/default/imports/", {"csrfmiddlewaretoken": token})
    settings.IMPORT_MAX_ARCHIVE_BYTES = 100
    large = client.post("/ws/default/imports/", {"file": archive, "csrfmiddlewaretoken": token})

    assert empty.status_code == 400 and "Choose an archive" in empty.content.decode()
    assert large.status_code == 413 and "larger than 100 bytes" in large.content.decode()
    assert not Import.objects.exists()
    uploads = Path(settings.IMPORTS_DIR) / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_an_ended_import_s_page_shows_its_report_and_problems(workspace, archive):
    client, token = _csrf_client()
    client.post("/ws/default/imports/", {"file": archive, "csrfmiddlewaretoken": token})
    row = Import.objects.get()
    run_import(row.pk, worker="test@here")

    html = client.get(f"/ws/default/imports/{row.pk}/").content.decode()

    assert ">succeeded<" in html
    assert "<td>runs</td><td>3</td><td>2</td>" in html
    assert "<td>metrics</td><td>20</td><td>20</td>" in html
    assert "mlruns/100/broken/meta.yaml" not in html and "100/broken/meta.yaml" in html
    assert "malformed YAML" in html
    assert "Cancel the import" not in html
    assert 'data-active=""' in html  # the script does not poll an ended import


def test_a_failed_import_s_page_shows_the_error(client, workspace):
    row = _row(
        workspace, status="FAILED", error="The archive entry '../x' leads outside the folder ('..'); refused."
    )

    html = client.get(f"/ws/default/imports/{row.pk}/").content.decode()

    assert ">failed<" in html and "leads outside the folder" in html


def test_cancelling_stops_an_active_import(client, workspace):
    row = _row(workspace, status="RUNNING", heartbeat_at=timezone.now())

    response = client.post(f"/ws/default/imports/{row.pk}/cancel")

    assert response.status_code == 303
    row.refresh_from_db()
    assert row.status == "CANCELLED"


def test_an_import_of_another_workspace_has_no_page_here(client, workspace, make_workspace):
    row = _row(make_workspace("other"))

    assert client.get(f"/ws/default/imports/{row.pk}/").status_code == 404
    assert client.post(f"/ws/default/imports/{row.pk}/cancel").status_code == 404
    assert client.get(f"/ws/other/imports/{row.pk}/").status_code == 200
