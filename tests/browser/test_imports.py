"""Importing in a real browser: upload an archive of an mlruns/ folder, watch the import end."""

from __future__ import annotations

import re
import tarfile

import pytest
from playwright.sync_api import expect

from tests.integration.mlruns_generator import generate


@pytest.fixture
def archive(tmp_path):
    root = tmp_path / "store" / "mlruns"
    generate(root, runs=6, points=3000, keys=3, experiments=2)
    broken = next(folder for folder in (root / "100").iterdir() if folder.is_dir())
    (broken / "metrics" / "loss").open("a").write("1700000009999 oops\n")
    path = tmp_path / "team-runs.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(root, arcname="mlruns")
    return path


def test_an_uploaded_archive_is_imported_and_its_page_follows_it_to_the_end(
    page, deployed, archive, screenshot
):
    page.goto(f"{deployed.url}/ws/default/")
    page.get_by_role("link", name="Imports").click()
    expect(page.get_by_role("heading", name="Imports")).to_be_visible()
    expect(page.get_by_text("No imports yet.")).to_be_visible()

    page.set_input_files("input[name=file]", str(archive))
    page.get_by_role("button", name="Upload and import").click()

    expect(page).to_have_url(re.compile(r"/ws/default/imports/\d+/$"))
    # The server's worker imports it; the page, polling, sees the import end and shows the report.
    expect(page.locator('[data-field="status"]')).to_have_text("succeeded", timeout=60_000)
    expect(page.locator(".counts-table")).to_contain_text("metrics")
    expect(page.locator(".counts-table tr", has_text="runs")).to_contain_text("6")
    expect(page.locator(".problems-table")).to_contain_text("line 168 skipped")
    screenshot(page, "import")

    page.get_by_role("link", name="Imports").first.click()
    expect(page.locator(".imports-table tbody tr")).to_have_count(1)
    expect(page.locator(".imports-table")).to_contain_text("team-runs.tar.gz")
    expect(page.locator(".imports-table")).to_contain_text("succeeded")
