"""Remote runs end to end: the server as it ships (`manage.py serve`) takes submitted jobs, its
worker runs them, their scripts log with the real `mlflow` client back to it, and their runs get
the metrics, status and output."""

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

from tracking.models import Job, Metric, Param

from .conftest import wait_for

# Stored files: run again on each artifact store (STUDIO_TEST_ARTIFACT_STORE).
pytestmark = pytest.mark.artifacts

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
def server(deployed, default_environment):
    """The server as it ships (the default workspace's default environment built first, so that
    jobs' output is their own)."""
    return deployed


@pytest.fixture
def worker(server):
    """The server's own worker (its log is the server's)."""
    return server


# What a script sends with its uploads (the SDK does): the studio API refuses multipart bodies
# without it, as a page on another site could send them.
SCRIPT = {"X-Studio-Client": "tests"}


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
        headers=SCRIPT,
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return response.json()


def ended(worker, job_id: int, timeout: float = 90) -> Job:
    def done():
        job = Job.objects.select_related("run").get(pk=job_id)
        return job if not job.is_active and job.run.status in ("FINISHED", "FAILED", "KILLED") else None

    return wait_for(done, timeout, f"job {job_id} to end ({worker.log_path.read_text()[-3000:]})")


def submit_in_process(workspace, files: dict[str, str], command: str) -> Job:
    from django.conf import settings

    from tracking.services.jobs import resolve_experiment, submit_job

    uploads = Path(settings.JOBS_DIR) / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    snapshot = uploads / f"test-{os.getpid()}-{len(files)}.zip"
    snapshot.write_bytes(_zip(files))
    experiment = resolve_experiment(workspace=workspace, experiment_name="remote")
    return submit_job(workspace=workspace, experiment=experiment, snapshot=snapshot, command=command)


def output(server, job_id: int) -> str:
    """The job's output as the studio answers it, read while the worker keeps replacing it."""
    url = f"{server.url}/api/studio/v1/workspaces/default/jobs/{job_id}/output"
    response = requests.get(url, timeout=30)
    assert response.status_code == 200, f"job {job_id}'s output: {response.status_code} {response.text}"
    return response.json()["text"]


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
    assert job.claimed_by.startswith("default.")  # the worker of the compute target "default"


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
        f"{server.url}/api/studio/v1/workspaces/default/jobs/{job_id}/cancel", json={}, timeout=30
    )

    assert response.json()["status"] == "CANCELLED"
    job = ended(worker, job_id, timeout=30)
    assert job.run.status == "KILLED"
    wait_for(lambda: "[studio] Cancelled" in output(server, job_id), 15, "the worker to stop the process")
    job.refresh_from_db()
    assert job.exit_code is not None and job.exit_code < 0


def test_submit_job_zips_a_folder_without_its_ignored_files_and_follows_the_output(server, tmp_path):
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    (folder / "train.py").write_text(TRAIN)
    (folder / ".gitignore").write_text("data/\n")
    (folder / "data" / "huge.csv").write_text("1,2,3\n")

    done = server.manage(
        "submit_job", str(folder), "--experiment", "cli", "--", "python", "train.py", "--alpha", "2"
    )

    assert done.returncode == 0, done.stderr
    printed = done.stdout
    job = Job.objects.select_related("run").get()
    assert "Snapshot: 2 files" in printed
    assert "trained\n" in printed and f"Job {job.pk}: SUCCEEDED (run FINISHED, exit code 0)" in printed
    assert job.snapshot_files == 2 and job.experiment.name == "cli"
    assert Metric.objects.filter(run=job.run, key="loss").count() == 3


@pytest.fixture(scope="session")
def client_machine(tmp_path_factory) -> Path:
    """The Python of a client machine: a virtualenv holding only mlflow-skinny and the SDK (no
    server, no Django), made with uv (its cache shared with the workers' environments)."""
    import mlflow
    from django.conf import settings

    folder = tmp_path_factory.mktemp("client-machine") / "venv"
    uv = Path(sys.executable).parent / "uv"
    env = {**os.environ, "UV_CACHE_DIR": str(Path(settings.ENVIRONMENTS_DIR) / ".uv-cache")}
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(folder)], check=True, env=env)
    sdk = Path(__file__).resolve().parents[2] / "sdk"
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(folder / "bin" / "python"),
         f"mlflow-skinny=={mlflow.__version__}", str(sdk)],
        check=True, env=env, timeout=600,
    )  # fmt: skip
    python = folder / "bin" / "python"
    lonely = subprocess.run([python, "-c", "import django"], capture_output=True)
    assert lonely.returncode != 0, "the client machine must not have the server's packages"
    return python


MLPROJECT = """
name: demo
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.1}
    command: "python train.py --alpha {alpha}"
"""


def test_mlflow_run_with_the_studio_backend_submits_the_project_to_a_worker(
    server, worker, tmp_path, client_machine
):
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
        [client_machine, "-m", "mlflow", "run", str(project), "--backend", "studio",
         "--backend-config", json.dumps({"time_limit_seconds": 600}), "--experiment-name", "projects",
         "-P", "alpha=0.3", "--env-manager", "local"],
        env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path,
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


def test_mlflow_run_asked_to_wait_prints_the_output_and_fails_with_the_job(
    server, worker, tmp_path, client_machine
):
    project = tmp_path / "project"
    project.mkdir()
    (project / "MLproject").write_text("entry_points:\n  main:\n    command: python fail.py\n")
    (project / "fail.py").write_text("print('loading', flush=True)\nraise SystemExit('no data')\n")
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url, "MLFLOW_DISABLE_TELEMETRY": "true"}

    done = subprocess.run(
        [client_machine, "-m", "mlflow", "run", str(project), "--backend", "studio",
         "--backend-config", '{"wait": true}', "--env-manager", "local"],
        env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path,
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
    default_workspace, worker_processes, settings, default_environment
):
    """A worker of its own (the server's worker is not to be killed), given the job in-process."""
    from tests.tracking.jobs.test_runner import processes_with
    from tracking.services.jobs import sweep_jobs

    settings.JOB_STALE_SECONDS = 2
    # Found by a word of its command line: the sandbox's PID namespace hides its host pid from it.
    marker = f"job-of-killed-worker-{os.getpid()}"
    script = "import time\nprint('started', flush=True)\ntime.sleep(120)\n"
    worker = worker_processes()
    job_id = submit_in_process(default_workspace, {"wait.py": script}, f"python wait.py {marker}").pk
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
    deployed_with_sign_in, team, personal_token
):
    server = worker = deployed_with_sign_in
    from tracking.access.models import AccessToken, TokenKind

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
