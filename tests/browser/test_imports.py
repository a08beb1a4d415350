"""Importing in a real browser: upload an archive of an mlruns/ folder, watch the import end."""

from __future__ import annotations

import re
import tarfile

import pytest
from playwright.sync_api import expect

from tests.conftest import ensure_default_workspace
from tests.integration.mlruns_generator import generate
from tracking.ingest.importer import run_import
from tracking.models import Import


@pytest.fixture
def archive(tmp_path, transactional_db, settings):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    settings.IMPORTS_DIR = tmp_path / "imports"
    ensure_default_workspace()
    root = tmp_path / "store" / "mlruns"
    generate(root, runs=6, points=3000, keys=3, experiments=2)
    broken = next(folder for folder in (root / "100").iterdir() if folder.is_dir())
    (broken / "metrics" / "loss").open("a").write("1700000009999 oops\n")
    path = tmp_path / "team-runs.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(root, arcname="mlruns")
    return path


def test_an_uploaded_archive_is_imported_and_its_page_follows_it_to_the_end(
    page, live_server, archive, screenshot
):
    page.goto(f"{live_server.url}/ws/default/")
    page.get_by_role("link", name="Imports").click()
    expect(page.get_by_role("heading", name="Imports")).to_be_visible()
    expect(page.get_by_text("No imports yet.")).to_be_visible()

    page.set_input_files("input[name=file]", str(archive))
    page.get_by_role("button", name="Upload and import").click()

    expect(page).to_have_url(re.compile(r"/ws/default/imports/\d+/$"))
    expect(page.locator('[data-field="status"]')).to_have_text("queued")
    # This test is the worker: the page, polling, sees the import end and shows the report.
    row = Import.objects.get()
    run_import(row.pk, worker="browser-test@here")

    expect(page.locator('[data-field="status"]')).to_have_text("succeeded", timeout=15_000)
    expect(page.locator(".counts-table")).to_contain_text("metrics")
    expect(page.locator(".counts-table tr", has_text="runs")).to_contain_text("6")
    expect(page.locator(".problems-table")).to_contain_text("line 168 skipped")
    screenshot(page, "import")

    page.get_by_role("link", name="Imports").first.click()
    expect(page.locator(".imports-table tbody tr")).to_have_count(1)
    expect(page.locator(".imports-table")).to_contain_text("team-runs.tar.gz")
    expect(page.locator(".imports-table")).to_contain_text("succeeded")
