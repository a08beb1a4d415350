"""Jobs in a real browser: submit a zip and a command, watch the output arrive while the server's
own worker runs the job."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tracking.models import Job

# The job waits for this file in its own working folder, which the test creates when it has
# seen the output so far: the page is looked at while the job is still running.
GATE = "gate"


@pytest.fixture
def project_zip(tmp_path, default_environment):  # built before: the job starts at once
    script = (
        "import os, time\n"
        "for epoch in range(3):\n"
        "    print(f'epoch {epoch}: loss {1 / (epoch + 1):.3f}')\n"
        f"while not os.path.exists({GATE!r}):\n"
        "    time.sleep(0.05)\n"
        "print('saved the model')\n"
    )
    path = tmp_path / "project.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("train.py", script)
        archive.writestr("conf/params.yaml", "alpha: 0.5\n")
    return path


def open_gate(job: Job) -> None:
    (Path(settings.JOBS_DIR) / "work" / str(job.pk) / GATE).touch()


def test_a_submitted_job_s_page_shows_its_output_as_it_runs(page, deployed, project_zip, screenshot):
    page.goto(f"{deployed.url}/ws/default/")
    page.get_by_role("link", name="Jobs").click()
    expect(page.get_by_text("No jobs yet.")).to_be_visible()

    page.set_input_files("input[name=file]", str(project_zip))
    page.get_by_role("textbox", name="Command").fill("python train.py --alpha 0.5")
    page.get_by_label("Run name").fill("remote-training")
    page.get_by_role("button", name="Submit the job").click()

    expect(page).to_have_url(re.compile(r"/ws/default/jobs/\d+/$"))
    job = Job.objects.get()
    try:
        expect(page.locator("#job-output")).to_contain_text("epoch 2: loss 0.333", timeout=60_000)
        expect(page.locator('[data-field="status"]').first).to_have_text("running")
        screenshot(page, "job-running")
    finally:
        open_gate(job)

    expect(page.locator('[data-field="status"]').first).to_have_text("succeeded", timeout=30_000)
    expect(page.locator("#job-output")).to_contain_text("saved the model")
    expect(page.get_by_role("button", name="Cancel the job")).to_have_count(0)

    page.get_by_role("link", name="Snapshot").click()
    page.get_by_role("link", name="train.py").first.click()
    expect(page.locator(".artifact-pane")).to_contain_text("saved the model")
    screenshot(page, "job-snapshot")

    page.get_by_role("link", name="remote-training").first.click()
    page.get_by_role("link", name="Outputs + logs").click()
    expect(page.locator("#log-text")).to_contain_text("epoch 0: loss 1.000")


def test_a_job_for_a_target_without_workers_waits_saying_why_and_the_compute_page_shows_it(
    page, deployed, project_zip, screenshot
):
    from tests.deployed import wait_for
    from tracking.models import ComputeTarget
    from tracking.queries.compute import live_targets

    ComputeTarget.objects.create(name="gpu-a100", description="Two A100 GPUs, for the large models.")
    wait_for(lambda: "default" in live_targets(), 30, "the server's worker's heartbeat")
    page.goto(f"{deployed.url}/ws/default/jobs/")
    page.set_input_files("input[name=file]", str(project_zip))
    page.get_by_role("textbox", name="Command").fill("python train.py")
    page.get_by_label("Compute target").select_option("gpu-a100")
    page.get_by_role("button", name="Submit the job").click()

    expect(page).to_have_url(re.compile(r"/ws/default/jobs/\d+/$"))
    expect(page.locator('[data-field="waiting"]')).to_contain_text(
        "No live worker serves compute target 'gpu-a100'"
    )

    page.get_by_role("link", name="Compute", exact=True).first.click()
    gpu = page.locator('[data-target="gpu-a100"]')
    expect(gpu.locator('[data-field="state"]')).to_have_text("no live worker")
    expect(gpu.locator('[data-field="queued"]')).to_have_text("1")
    expect(page.locator('[data-target="default"] [data-field="state"]')).to_contain_text("live worker")
    screenshot(page, "compute")

    page.go_back()
    page.get_by_role("button", name="Cancel the job").click()
    expect(page.locator('[data-field="status"]').first).to_have_text("cancelled")
