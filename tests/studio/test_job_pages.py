"""Studio pages of jobs: the list with its submission form, a job's page with its output, cancelling,
and the job's Snapshot in the artifact browser."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.test import Client

from tests.tracking.jobs.conftest import zip_bytes
from tracking.jobs.runner import run_job
from tracking.models import Job

pytestmark = pytest.mark.django_db

TRAIN = {"train.py": "print('hello from the job')\n", "conf/params.yaml": "alpha: 0.5\n"}


@pytest.fixture(autouse=True)
def job_folders(settings, tmp_path, sandbox_reachable_folder, default_environment):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    settings.JOBS_DIR = sandbox_reachable_folder / "jobs"  # the sandbox's user must reach it
    return settings


def _zip(files=TRAIN, name="project.zip") -> io.BytesIO:
    upload = io.BytesIO(zip_bytes(files))
    upload.name = name
    return upload


def _csrf_client() -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/ws/default/jobs/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    return client, token


def _submit(client, token, **fields) -> object:
    form = {
        "file": _zip(),
        "experiment_name": "remote",
        "kind": "command",
        "command": "python train.py",
        "csrfmiddlewaretoken": token,
    }
    form.update(fields)
    return client.post("/ws/default/jobs/", form)


def _uploads(settings) -> list[Path]:
    folder = Path(settings.JOBS_DIR) / "uploads"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_submitting_the_form_queues_a_job_and_opens_its_page(default_workspace, settings):
    client, token = _csrf_client()

    response = _submit(client, token, run_name="from the studio", time_limit_minutes="2")

    job = Job.objects.get()
    assert response.status_code == 303 and response["Location"] == f"/ws/default/jobs/{job.pk}/"
    assert (job.command, job.time_limit_seconds, job.run.name, job.run.status) == (
        "python train.py",
        120,
        "from the studio",
        "SCHEDULED",
    )
    page = client.get(response["Location"]).content.decode()
    assert f"Job #{job.pk}" in page and "queued" in page and "Cancel the job" in page
    assert 'data-active="1"' in page


def test_an_mlflow_project_is_submitted_with_its_entry_point_and_parameters(default_workspace):
    client, token = _csrf_client()

    _submit(client, token, kind="project", entry_point="train", parameters="alpha=0.5 l1=0.1")

    job = Job.objects.get()
    assert (job.kind, job.command, job.entry_point, job.parameters) == (
        "project",
        "",
        "train",
        {"alpha": "0.5", "l1": "0.1"},
    )


def test_a_submission_without_the_csrf_token_is_refused_and_nothing_is_kept(default_workspace, settings):
    client = Client(enforce_csrf_checks=True)

    response = client.post("/ws/default/jobs/", {"file": _zip(), "experiment_name": "x", "command": "ls"})

    assert response.status_code == 403
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"command": ""}, "Give the command to run"),
        ({"file": ""}, "Choose a .zip of the source folder"),
        ({"file": _zip({"a": "b"}, "notes.txt"), "command": "ls"}, None),
        ({"parameters": "alpha", "kind": "project"}, "Write parameters as name=value"),
        ({"time_limit_minutes": "soon"}, "The time limit must be a number of minutes."),
    ],
)
def test_a_bad_submission_says_why_and_keeps_nothing(default_workspace, settings, fields, message):
    client, token = _csrf_client()

    response = _submit(client, token, **fields)

    if message is None:  # any file name is fine as long as it is a zip
        assert response.status_code == 303
        return
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Job.objects.exists() and _uploads(settings) == []


def test_a_snapshot_over_the_limit_is_refused(default_workspace, settings):
    client, token = _csrf_client()
    settings.JOB_MAX_SNAPSHOT_BYTES = 100

    response = _submit(client, token, file=_zip({"big.bin": bytes(range(256)) * 10}))

    assert response.status_code == 413 and "larger than 100 bytes" in response.content.decode()
    assert _uploads(settings) == []


def test_an_ended_job_shows_its_output_exit_code_and_snapshot(default_workspace):
    client, token = _csrf_client()
    _submit(client, token)
    job = Job.objects.get()
    run_job(job.pk, worker="test-worker")

    page = client.get(f"/ws/default/jobs/{job.pk}/").content.decode()

    assert "succeeded" in page and "FINISHED" in page and "Cancel the job" not in page
    assert "hello from the job" in page and "<code>0</code>" in page
    assert 'data-active=""' in page
    snapshot = client.get(f"/ws/default/jobs/{job.pk}/snapshot/").content.decode()
    assert "train.py" in snapshot and "conf" in snapshot and "2 files" in snapshot
    source = client.get(f"/ws/default/jobs/{job.pk}/snapshot/?path=train.py").content.decode()
    assert "hello from the job" in source
    raw = client.get(f"/ws/default/jobs/{job.pk}/snapshot/raw?path=conf/params.yaml")
    assert b"".join(raw.streaming_content) == b"alpha: 0.5\n"
    assert client.get(f"/ws/default/jobs/{job.pk}/snapshot/raw?path=../../etc/passwd").status_code == 400


def test_a_failed_job_shows_its_error(default_workspace):
    client, token = _csrf_client()
    _submit(client, token, command="python missing.py")
    job = Job.objects.get()
    run_job(job.pk, worker="test-worker")

    page = client.get(f"/ws/default/jobs/{job.pk}/").content.decode()

    assert "failed" in page and "The script missing.py is not in the snapshot" in page
    assert "No snapshot yet" not in client.get(f"/ws/default/jobs/{job.pk}/snapshot/").content.decode()


def test_cancelling_from_the_page_stops_the_job_and_kills_its_run(default_workspace):
    client, token = _csrf_client()
    _submit(client, token)
    job = Job.objects.get()

    response = client.post(f"/ws/default/jobs/{job.pk}/cancel", {"csrfmiddlewaretoken": token})

    assert response.status_code == 303
    job.refresh_from_db()
    job.run.refresh_from_db()
    assert (job.status, job.run.status) == ("CANCELLED", "KILLED")


def test_the_list_shows_the_workspace_s_jobs_in_a_fixed_number_of_queries(
    default_workspace, make_workspace, django_assert_max_num_queries
):
    client, token = _csrf_client()
    for _ in range(3):
        _submit(client, token)
    make_workspace("other")

    # The jobs with their runs and experiments, the experiments' names, and the compute targets
    # with their live workers and counts of jobs (the submit form's select).
    with django_assert_max_num_queries(7):
        page = client.get("/ws/default/jobs/").content.decode()

    assert page.count("/ws/default/jobs/") >= 4 and "No jobs yet" not in page
    assert "No jobs yet" in client.get("/ws/other/jobs/").content.decode()


def test_a_job_of_another_workspace_has_no_page_here(default_workspace, make_workspace):
    client, token = _csrf_client()
    _submit(client, token)
    make_workspace("other")
    job = Job.objects.get()

    assert client.get(f"/ws/other/jobs/{job.pk}/").status_code == 404
    assert client.get(f"/ws/other/jobs/{job.pk}/snapshot/").status_code == 404


def test_a_run_made_by_a_job_links_its_snapshot_from_every_tab(default_workspace):
    client, token = _csrf_client()
    _submit(client, token)
    job = Job.objects.get()
    job_run = job.run
    for tab in ("", "metrics/", "artifacts/", "outputs/"):
        html = client.get(f"/ws/default/runs/{job_run.uuid}/{tab}").content.decode()
        assert f'href="/ws/default/jobs/{job.pk}/snapshot/">Snapshot</a>' in html, tab


def test_the_jobs_page_warns_when_jobs_run_without_a_sandbox(default_workspace, settings):
    sandboxed = Client().get("/ws/default/jobs/").content.decode()
    settings.JOBS_SANDBOX = "none"
    unsandboxed = Client().get("/ws/default/jobs/").content.decode()

    from tracking.jobs.sandbox import Bubblewrap

    assert ("data-sandbox=" in sandboxed) == (Bubblewrap().unavailable() != "")
    assert 'data-sandbox="unsandboxed"' in unsandboxed
    assert "Jobs run without a sandbox (STUDIO_JOBS_SANDBOX=none)" in unsandboxed
