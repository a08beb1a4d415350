"""Jobs' own environments, end to end: a real worker builds a job's requirements with uv (plus
mlflow-skinny), the job logs to its run with them, the next job with the same specification
starts at once in the cached environment, and a specification that cannot be built fails the
job with the installer's own words."""

from __future__ import annotations

import json
import statistics
import time

import pytest

from tracking.jobs import environment_folders as folders
from tracking.jobs.specs import parse_spec
from tracking.models import Environment, Job, Metric, Run

from .test_jobs import ended, output, submit

SPEC = "six>=1.16\n"
USES_SIX = """
import mlflow
import six

with mlflow.start_run():
    mlflow.log_metric("six_major", int(six.__version__.split(".")[0]))
print("six", six.__version__)
"""


@pytest.fixture
def server(deployed, default_environment):
    return deployed


@pytest.fixture
def worker(server):
    """The server's own worker (its log is the server's)."""
    return server


def _running_after(server, files, command, **fields) -> tuple[dict, float]:
    started = time.monotonic()
    submitted = submit(server, files, command, **fields)
    deadline = started + 60
    while time.monotonic() < deadline:
        if Run.objects.filter(uuid=submitted["run_id"], status__in=("RUNNING", "FINISHED")).exists():
            return submitted, time.monotonic() - started
        time.sleep(0.01)
    raise AssertionError(f"job {submitted['id']} did not start")


def test_a_job_s_requirements_are_installed_once_and_reused(server, worker):
    # The environment starts unbuilt (uv's download cache, kept between sessions, stays warm).
    folders.remove_folder(folders.environment_folder("default", parse_spec("pip", SPEC).hash))
    environment = json.dumps({"name": "with-six", "kind": "pip", "spec": SPEC})

    first = ended(
        worker, submit(server, {"train.py": USES_SIX}, "python train.py", environment=environment)["id"]
    )

    text = output(server, first.pk)
    assert (first.status, first.run.status) == ("SUCCEEDED", "FINISHED"), first.error + text
    assert (
        "[studio] Building the environment 'with-six'" in text
        and "+ six==" in text
        and "+ mlflow-skinny==" in text
    )
    assert Metric.objects.get(run=first.run, key="six_major").value == 1
    built = Environment.objects.get()
    assert (built.status, built.name, first.environment_id) == ("READY", "with-six", built.pk)
    assert built.size_bytes > 1_000_000 and built.python_version

    # The same specification from the snapshot's requirements.txt: the same environment, not rebuilt
    # (a script that does not import mlflow: the time measured is the worker's, not the import's).
    files = {
        "train.py": "import six\nprint(six.__version__)\n",
        "requirements.txt": "# the same\nSix >= 1.16\n",
    }
    waits = []
    for _ in range(5):
        submitted, waited = _running_after(server, files, "python train.py")
        waits.append(waited)
        job = ended(worker, submitted["id"])
        assert job.status == "SUCCEEDED", job.error + output(server, job.pk)
        assert "Building the environment" not in output(server, job.pk)
        assert job.environment_id == built.pk
    again = Environment.objects.get()
    assert again.built_at == built.built_at and again.last_used_at > built.last_used_at
    p50 = statistics.median(waits)
    print(
        f"\nsubmitted -> RUNNING with a cached environment: p50 {p50:.3f} s, all {sorted(round(w, 3) for w in waits)}"
    )
    assert p50 < 5, waits


def test_a_requirement_that_cannot_be_installed_fails_the_job_with_uv_s_error(server, worker):
    job = ended(
        worker,
        submit(server, {"t.py": "", "requirements.txt": "six==99.99.99\n"}, "python t.py")["id"],
    )

    assert (job.status, job.run.status) == ("FAILED", "FAILED")
    assert job.error.startswith("The environment could not be built (uv pip install exited with code 1): ")
    assert "six==99.99.99" in job.error and "No solution found" in job.error
    assert "No solution found" in output(server, job.pk)
    assert Environment.objects.get().status == "FAILED"


def test_a_conda_only_dependency_or_a_missing_python_fails_clearly(server, worker):
    conda = submit(server, {"t.py": "", "conda.yaml": "dependencies:\n  - numpy=1.26\n"}, "python t.py")
    python = submit(server, {"t.py": "", "python_env.yaml": "python: '3.99'\n"}, "python t.py")

    conda_job, python_job = ended(worker, conda["id"]), ended(worker, python["id"])

    assert conda_job.status == "FAILED" and conda_job.error.startswith(
        "conda.yaml asks for conda packages (numpy=1.26); this worker builds environments with uv"
    )
    assert python_job.status == "FAILED"
    assert python_job.error.startswith(
        "The environment asks for Python 3.99, which this worker does not have (available: "
    )
    assert Job.objects.filter(status="FAILED").count() == 2
