"""Fixtures for the studio API: folders of this test only, and a client that says it is a script
(the header the SDK sends with its uploads)."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture(autouse=True)
def api_folders(settings, tmp_path, sandbox_reachable_folder):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    settings.JOBS_DIR = sandbox_reachable_folder / "jobs"  # a job's sandboxed user must reach it
    settings.IMPORTS_DIR = tmp_path / "imports"
    settings.JOB_LOG_FLUSH_SECONDS = 0.2
    settings.SERVER_URL = "http://studio.test:8000"
    return settings


@pytest.fixture
def client() -> Client:
    return Client(HTTP_X_STUDIO_CLIENT="tests")
