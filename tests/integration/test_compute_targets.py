"""Compute targets end to end: a job submitted (with the SDK) to a target no worker serves waits,
saying so; a worker started for that target, as on another machine, takes it and runs it; a
queued job can be cancelled and then never runs."""

from __future__ import annotations

import subprocess

import pytest
import requests
from studio_sdk import Experiment, ScriptRunConfig, Workspace

from tests.deployed import stop_group
from tracking.models import ComputeTarget, Job, WorkerHeartbeat

from .conftest import wait_for


@pytest.fixture
def target_worker(deployed, tmp_path):
    """Starts `serve --only worker --queues ...` for the test; stops it at the end."""
    started: list[subprocess.Popen] = []

    def start(*arguments: str) -> subprocess.Popen:
        process = deployed.start_worker(*arguments, log_path=tmp_path / f"worker-{len(started)}.log")
        process.log_path = tmp_path / f"worker-{len(started)}.log"
        started.append(process)
        return process

    yield start
    for process in started:
        stop_group(process, grace=30)


def test_a_job_waits_for_a_worker_of_its_target_and_runs_on_it(
    deployed, target_worker, default_environment, tmp_path
):
    ComputeTarget.objects.create(name="gpu-a100", description="two A100s")
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text("import socket\nprint('trained on', socket.gethostname())\n")
    ws = Workspace(deployed.url, "default")
    experiment = Experiment(ws, "on-gpus")

    waiting = experiment.submit(
        ScriptRunConfig(source_directory=source, script="train.py", compute_target="gpu-a100")
    )
    cancelled = experiment.submit(
        ScriptRunConfig(source_directory=source, script="train.py", compute_target="gpu-a100")
    )
    job = waiting.refresh()
    assert (job["status"], job["compute_target"]) == ("QUEUED", "gpu-a100")
    assert "No live worker serves compute target 'gpu-a100'" in job["waiting_for"]
    page = requests.get(f"{deployed.url}/ws/default/compute/", timeout=30).text
    assert 'data-field="state">no live worker<' in page and 'data-field="queued">2<' in page
    assert cancelled.cancel()["status"] == "CANCELLED"

    worker = target_worker("--queues", "gpu-a100", "--concurrency", "2")
    finished = waiting.wait_for_completion(timeout=120, poll_seconds=0.2)

    assert finished["status"] == "SUCCEEDED" and finished["waiting_for"] == ""
    assert Job.objects.get(pk=waiting.job_id).claimed_by.startswith("gpu-a100.")
    assert Job.objects.get(pk=cancelled.job_id).status == "CANCELLED"  # never ran
    heartbeat = wait_for(
        lambda: WorkerHeartbeat.objects.filter(targets=["gpu-a100"]).first(), 30, "its heartbeat"
    )
    assert (heartbeat.concurrency, heartbeat.serves_general) == (2, False)
    page = requests.get(f"{deployed.url}/ws/default/compute/", timeout=30).text
    assert 'data-field="state">1 live worker<' in page and heartbeat.hostname in page
    assert worker.poll() is None


def test_a_target_nobody_made_is_refused_at_submission(deployed, tmp_path):
    (tmp_path / "train.py").write_text("print(1)\n")
    from studio_sdk import StudioError

    with pytest.raises(StudioError) as refused:
        Experiment(Workspace(deployed.url, "default"), "x").submit(
            ScriptRunConfig(source_directory=tmp_path, script="train.py", compute_target="gpu-a10")
        )
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Unknown compute target 'gpu-a10'" in str(refused.value)
    assert not Job.objects.exists()
