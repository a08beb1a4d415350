"""Remote runs end to end: a real Celery worker runs submitted jobs whose scripts log with the real
`mlflow` client to this server (live_server), and their runs get the metrics, status and output."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import requests
from django.core.management import call_command

from tests.conftest import ensure_default_workspace
from tracking.models import Job, Metric, Param

from .conftest import wait_for

TRAIN = """
import sys
import mlflow

alpha = float(sys.argv[sys.argv.index("--alpha") + 1])
with mlflow.start_run() as run:
    mlflow.log_param("alpha", alpha)
    for step in range(3):
        mlflow.log_metric("loss", alpha / (step + 1), step=step)
    print("logged to", run.info.run_id)
print("trained")
"""


@pytest.fixture
def server(live_server, monkeypatch, default_environment):
    """The live server, named to the worker as the address jobs reach it at (and the default
    workspace's default environment built, so that jobs' output is their own)."""
    monkeypatch.setenv("STUDIO_SERVER_URL", live_server.url)
    ensure_default_workspace()
    return live_server


@pytest.fixture
def worker(server, celery_worker_process):
    return celery_worker_process


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def submit(server, files: dict[str, str], command: str, **fields) -> dict:
    response = requests.post(
        f"{server.url}/api/studio/v1/workspaces/default/jobs",
        files={"file": ("project.zip", _zip(files), "application/zip")},
        data={"command": command, "experiment_name": "remote", **fields},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return response.json()


def ended(worker, job_id: int, timeout: float = 90) -> Job:
    def done():
        job = Job.objects.select_related("run").get(pk=job_id)
        return job if not job.is_active and job.run.status in ("FINISHED", "FAILED", "KILLED") else None

    return wait_for(done, timeout, f"job {job_id} to end ({worker.log_path.read_text()[-3000:]})")


def output(server, job_id: int) -> str:
    url = f"{server.url}/api/studio/v1/workspaces/default/jobs/{job_id}/output"
    return requests.get(url, timeout=30).json()["text"]


def test_a_job_s_script_logs_metrics_to_its_run_and_its_output_is_captured(server, worker):
    submitted = submit(server, {"train.py": TRAIN}, "python train.py --alpha 0.5")
    assert submitted["run_status"] == "SCHEDULED"

    job = ended(worker, submitted["id"])

    assert (job.status, job.exit_code, job.run.status) == ("SUCCEEDED", 0, "FINISHED"), job.error
    assert job.run.uuid == submitted["run_id"]
    points = list(
        Metric.objects.filter(run=job.run, key="loss").order_by("step").values_list("step", "value")
    )
    assert points == [(0, 0.5), (1, 0.25), (2, 0.5 / 3)]
    assert Param.objects.get(run=job.run, key="alpha").value == "0.5"
    text = output(server, job.pk)
    assert f"logged to {job.run.uuid}\n" in text and "trained\n" in text
    assert job.claimed_by.startswith(worker.hostname)


def test_a_failing_script_and_a_missing_one_fail_their_runs_saying_why(server, worker):
    failing = submit(
        server, {"train.py": "print('step 1')\nraise SystemExit('diverged')\n"}, "python train.py"
    )
    missing = submit(server, {"train.py": ""}, "python trian.py --alpha 1")

    failed = ended(worker, failing["id"])
    not_found = ended(worker, missing["id"])

    assert (failed.status, failed.exit_code, failed.run.status) == ("FAILED", 1, "FAILED")
    assert failed.error == "The command exited with code 1. Last output: diverged"
    assert output(server, failed.pk).startswith("step 1\ndiverged\n")
    assert (not_found.status, not_found.run.status) == ("FAILED", "FAILED")
    assert not_found.error == "The script trian.py is not in the snapshot (its top folder holds: train.py)."


def test_cancelling_a_running_job_kills_it_and_its_run(server, worker):
    script = "import time\nprint('waiting', flush=True)\ntime.sleep(120)\n"
    job_id = submit(server, {"wait.py": script}, "python wait.py")["id"]
    wait_for(
        lambda: "waiting" in output(server, job_id),
        60,
        f"the job's output ({worker.log_path.read_text()[-2000:]})",
    )

    response = requests.post(
        f"{server.url}/api/studio/v1/workspaces/default/jobs/{job_id}/cancel", timeout=30
    )

    assert response.json()["status"] == "CANCELLED"
    job = ended(worker, job_id, timeout=30)
    assert job.run.status == "KILLED"
    wait_for(lambda: "[studio] Cancelled" in output(server, job_id), 15, "the worker to stop the process")
    job.refresh_from_db()
    assert job.exit_code is not None and job.exit_code < 0


def test_submit_job_zips_a_folder_without_its_ignored_files_and_follows_the_output(
    server, worker, tmp_path, capsys
):
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    (folder / "train.py").write_text(TRAIN)
    (folder / ".gitignore").write_text("data/\n")
    (folder / "data" / "huge.csv").write_text("1,2,3\n")

    call_command("submit_job", str(folder), "--experiment", "cli", "--", "python", "train.py", "--alpha", "2")

    printed = capsys.readouterr().out
    job = Job.objects.select_related("run").get()
    assert "Snapshot: 2 files" in printed
    assert "trained\n" in printed and f"Job {job.pk}: SUCCEEDED (run FINISHED, exit code 0)" in printed
    assert job.snapshot_files == 2 and job.experiment.name == "cli"
    assert Metric.objects.filter(run=job.run, key="loss").count() == 3


MLPROJECT = """
name: demo
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.1}
    command: "python train.py --alpha {alpha}"
"""


def test_mlflow_run_with_the_studio_backend_submits_the_project_to_a_worker(server, worker, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "MLproject").write_text(MLPROJECT)
    (project / "train.py").write_text(TRAIN)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"{server.url}/ws/default",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }

    done = subprocess.run(
        [sys.executable, "-m", "mlflow", "run", str(project), "--backend", "studio",
         "--backend-config", json.dumps({"time_limit_seconds": 600}), "--experiment-name", "projects",
         "-P", "alpha=0.3", "--env-manager", "local"],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:]
    submitted = Job.objects.get()
    assert f"Submitted job {submitted.pk}: {server.url}/ws/default/jobs/{submitted.pk}/" in done.stderr
    job = ended(worker, submitted.pk)  # `mlflow run` does not wait for a plugin backend's run
    assert (job.kind, job.entry_point, job.command, job.time_limit_seconds) == (
        "project",
        "main",
        "python train.py --alpha 0.3",
        600,
    )
    assert (job.status, job.run.status, job.experiment.name) == ("SUCCEEDED", "FINISHED", "projects"), (
        job.error
    )
    tags = dict(job.run.tags.values_list("key", "value"))
    assert tags["mlflow.project.backend"] == "studio" and tags["mlflow.source.type"] == "PROJECT"
    assert dict(job.run.params.values_list("key", "value")) == {"alpha": "0.3"}
    assert Metric.objects.filter(run=job.run, key="loss").count() == 3


def test_mlflow_run_asked_to_wait_prints_the_output_and_fails_with_the_job(server, worker, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "MLproject").write_text("entry_points:\n  main:\n    command: python fail.py\n")
    (project / "fail.py").write_text("print('loading', flush=True)\nraise SystemExit('no data')\n")
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url, "MLFLOW_DISABLE_TELEMETRY": "true"}

    done = subprocess.run(
        [sys.executable, "-m", "mlflow", "run", str(project), "--backend", "studio",
         "--backend-config", '{"wait": true}', "--env-manager", "local"],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip

    assert done.returncode == 1
    assert done.stdout.startswith("loading\nno data\n")
    job = Job.objects.select_related("run").get()
    assert (
        f"Run (ID '{job.run.uuid}') failed: The command exited with code 1. Last output: no data"
        in done.stderr
    )
    assert (job.status, job.run.status) == ("FAILED", "FAILED")


def test_a_job_whose_worker_is_killed_dies_with_it_and_is_failed_by_the_sweeper(
    live_server, worker_processes, settings, default_environment
):
    from tests.tracking.jobs.test_runner import processes_with
    from tracking.services.jobs import sweep_jobs

    ensure_default_workspace()
    settings.JOB_STALE_SECONDS = 2
    # Found by a word of its command line: the sandbox's PID namespace hides its host pid from it.
    marker = f"job-of-killed-worker-{os.getpid()}"
    script = "import time\nprint('started', flush=True)\ntime.sleep(120)\n"
    worker = worker_processes(STUDIO_SERVER_URL=live_server.url)
    job_id = submit(live_server, {"wait.py": script}, f"python wait.py {marker}")["id"]
    wait_for(lambda: processes_with(marker), 60, f"the job to start ({worker.log_path.read_text()[-2000:]})")
    (job_pid,) = processes_with(marker)

    os.killpg(worker.pid, signal.SIGKILL)  # the worker and its threads, at once, as the OOM killer would
    worker.wait()

    wait_for(lambda: not _running(job_pid), 10, "the job's process to die with its worker")
    wait_for(lambda: sweep_jobs() is not None and not Job.objects.get(pk=job_id).is_active, 15, "the sweeper")
    job = Job.objects.select_related("run").get(pk=job_id)
    assert (job.status, job.run.status) == ("FAILED", "FAILED")
    assert "The worker running this job stopped answering" in job.error


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_with_sign_in_required_a_job_logs_with_a_token_of_its_own_that_dies_with_it(
    server, worker, auth_on, team, personal_token
):
    from studio.accounts.models import AccessToken, TokenKind

    token = personal_token(team.contributor, team.workspace)
    response = requests.post(
        f"{server.url}/api/studio/v1/workspaces/team-a/jobs",
        files={"file": ("project.zip", _zip({"train.py": TRAIN}), "application/zip")},
        data={"command": "python train.py --alpha 0.5", "experiment_name": "remote"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 202, response.text

    job = ended(worker, response.json()["id"])

    assert (job.status, job.run.status) == ("SUCCEEDED", "FINISHED"), job.error + output_of(job)
    assert Metric.objects.filter(run=job.run, key="loss").count() == 3
    # The run is the submitter's, and the job's token is revoked once the job has ended.
    assert job.submitted_by == "contributor" and job.run.user_id == "contributor"
    job_tokens = AccessToken.objects.filter(kind=TokenKind.JOB, workspace=team.workspace)
    assert job_tokens.count() == 1 and job_tokens.get().revoked_at is not None


def output_of(job: Job) -> str:
    from tracking.queries.jobs import read_output

    text, _ = read_output(job, 0)
    return text.decode(errors="replace")[-2000:]
