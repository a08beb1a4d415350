"""Jobs in a real browser: submit a zip and a command, watch the output arrive while the job runs."""

from __future__ import annotations

import re
import threading
import zipfile
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import expect

from tests.conftest import ensure_default_workspace
from tracking.jobs.runner import run_job
from tracking.models import Job


@pytest.fixture
def project_zip(tmp_path, transactional_db, settings, sandbox_reachable_folder, default_environment):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    settings.JOBS_DIR = sandbox_reachable_folder / "jobs"  # the sandbox's user must reach it
    settings.JOB_LOG_FLUSH_SECONDS = 0.2
    ensure_default_workspace()

    def gate(job) -> Path:  # in the job's own folder: the only one of the host's it sees
        return settings.JOBS_DIR / "work" / str(job.pk) / "gate"

    script = (
        "import os, time\n"
        "for epoch in range(3):\n"
        "    print(f'epoch {epoch}: loss {1 / (epoch + 1):.3f}')\n"
        "while not os.path.exists('gate'):\n"
        "    time.sleep(0.05)\n"
        "print('saved the model')\n"
    )
    path = tmp_path / "project.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("train.py", script)
        archive.writestr("conf/params.yaml", "alpha: 0.5\n")
    return path, gate


def test_a_submitted_job_s_page_shows_its_output_as_it_runs(page, live_server, project_zip, screenshot):
    archive, gate = project_zip
    page.goto(f"{live_server.url}/ws/default/")
    page.get_by_role("link", name="Jobs").click()
    expect(page.get_by_text("No jobs yet.")).to_be_visible()

    page.set_input_files("input[name=file]", str(archive))
    page.get_by_role("textbox", name="Command").fill("python train.py --alpha 0.5")
    page.get_by_label("Run name").fill("remote-training")
    page.get_by_role("button", name="Submit the job").click()

    expect(page).to_have_url(re.compile(r"/ws/default/jobs/\d+/$"))
    expect(page.locator('[data-field="status"]').first).to_have_text("queued")
    # This test is the worker, in a thread: the page, polling, shows the output as it comes.
    job = Job.objects.get()

    def work():
        try:
            run_job(job.pk, worker="browser-test@here")
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    try:
        expect(page.locator("#job-output")).to_contain_text("epoch 2: loss 0.333", timeout=20_000)
        expect(page.locator('[data-field="status"]').first).to_have_text("running")
        screenshot(page, "job-running")
    finally:
        gate(job).touch()
        worker.join(30)

    expect(page.locator('[data-field="status"]').first).to_have_text("succeeded", timeout=15_000)
    expect(page.locator("#job-output")).to_contain_text("saved the model")
    expect(page.get_by_role("button", name="Cancel the job")).to_have_count(0)

    page.get_by_role("link", name="Snapshot").click()
    page.get_by_role("link", name="train.py").first.click()
    expect(page.locator(".artifact-pane")).to_contain_text("saved the model")
    screenshot(page, "job-snapshot")

    page.get_by_role("link", name="remote-training").first.click()
    page.get_by_role("link", name="Outputs + logs").click()
    expect(page.locator("#log-text")).to_contain_text("epoch 0: loss 1.000")
