"""The job endpoints: a snapshot uploaded (streamed to disk) and a command become a queued job and a
scheduled run; a job is read back, listed, cancelled, and its output read from an offset."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.tracking.jobs.conftest import zip_bytes
from tracking.jobs.runner import run_job
from tracking.models import Experiment, Job, Run

pytestmark = pytest.mark.django_db

URL = "/api/studio/v1/workspaces/{}/jobs"
TRAIN = {"train.py": "import sys\nprint('alpha', sys.argv[2])\n"}


def _named(data: bytes, name: str) -> io.BytesIO:
    upload = io.BytesIO(data)
    upload.name = name
    return upload


def _uploads(settings) -> list[Path]:
    folder = Path(settings.JOBS_DIR) / "uploads"
    return sorted(folder.iterdir()) if folder.exists() else []


def post_job(client, workspace="default", files=TRAIN, **fields):
    fields.setdefault("experiment_name", "remote")
    fields.setdefault("command", "python train.py --alpha 0.5")
    return client.post(URL.format(workspace), {"file": _named(zip_bytes(files), "project.zip"), **fields})


def test_a_multipart_submission_creates_a_queued_job_and_a_scheduled_run(client, default_workspace, settings):
    response = post_job(client, run_name="first try", user="ada")

    assert response.status_code == 202, response.content
    body = response.json()
    job = Job.objects.get(pk=body["id"])
    assert response["Location"] == f"{URL.format('default')}/{job.pk}"
    assert body["status"] == "QUEUED" and body["run_status"] == "SCHEDULED"
    assert body["run_id"] == job.run.uuid and body["experiment_id"] == str(job.experiment.number)
    assert body["command"] == "python train.py --alpha 0.5" and body["kind"] == "command"
    assert body["time_limit_seconds"] == settings.JOB_TIME_LIMIT_SECONDS
    assert job.experiment.name == "remote"  # created, as `mlflow run --experiment-name` does
    run = job.run
    assert run.name == "first try" and run.user_id == "ada"
    tags = dict(run.tags.values_list("key", "value"))
    assert tags["mlflow.source.type"] == "JOB" and tags["mlflow.source.name"] == "project.zip"
    (stored,) = _uploads(settings)
    assert job.snapshot_path == str(stored) and job.snapshot_bytes == stored.stat().st_size


def test_a_raw_zip_body_with_fields_in_the_query_string_is_accepted(client, default_workspace):
    experiment = Experiment.objects.get(workspace=default_workspace, number=0)
    response = client.post(
        URL.format("default") + "?experiment_id=0&command=python+train.py+--alpha+1&time_limit_seconds=60",
        data=zip_bytes(TRAIN),
        content_type="application/zip",
    )

    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert (job.experiment, job.time_limit_seconds, job.source_name) == (experiment, 60, "snapshot.zip")


def test_a_submitted_job_runs_and_its_status_and_output_are_read_back(
    client, default_workspace, default_environment
):
    job_id = post_job(client).json()["id"]

    run_job(job_id, worker="test@here")
    status = client.get(f"{URL.format('default')}/{job_id}").json()
    output = client.get(f"{URL.format('default')}/{job_id}/output").json()

    assert (status["status"], status["run_status"], status["exit_code"]) == ("SUCCEEDED", "FINISHED", 0)
    assert output["text"].startswith("alpha 0.5\n") and output["ended"] is True
    assert output["next_offset"] == output["size"] == len(output["text"].encode())
    rest = client.get(f"{URL.format('default')}/{job_id}/output?offset={output['next_offset']}").json()
    assert rest["text"] == "" and rest["next_offset"] == output["size"]


def test_an_mlflow_project_submission_names_an_entry_point_and_parameters(client, default_workspace):
    files = {
        "MLproject": "entry_points:\n  main:\n    parameters: {alpha: float}\n    command: python train.py --alpha {alpha}\n",
        **TRAIN,
    }
    response = post_job(
        client, files=files, command="", entry_point="main", parameters=json.dumps({"alpha": 0.7})
    )

    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    assert response.json()["kind"] == "project"
    run_job(job_id, worker="test@here")
    output = client.get(f"{URL.format('default')}/{job_id}/output").json()
    assert output["text"].startswith("alpha 0.7\n")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"command": ""}, "Give the command to run"),
        ({"entry_point": "main"}, "not both"),
        ({"parameters": "[1]", "command": "", "entry_point": "main"}, "parameters: must be a JSON object"),
        ({"parameters": "[" * 100_000, "command": "", "entry_point": "main"}, "parameters: "),
        ({"time_limit_seconds": "soon"}, "time_limit_seconds: A valid integer is required"),
        ({"time_limit_seconds": "1e20"}, "time_limit_seconds: A valid integer is required"),
        ({"time_limit_seconds": "0"}, "time_limit_seconds: Ensure this value is greater than or equal to 1"),
        ({"experiment_name": ""}, "Name the experiment"),
        ({"experiment_id": "0"}, "not both"),
        ({"time_limit_seconds": "100000000000000000000"}, "may be at most 604800 seconds"),
        ({"time_limit_seconds": "-5"}, "time_limit_seconds: Ensure this value is greater than or equal to 1"),
        ({"time_limit_seconds": "1.5"}, "time_limit_seconds: A valid integer is required"),
        ({"environment": "six"}, "environment: must be a JSON object"),
        ({"environment": '{"kind": "npm", "spec": "x"}'}, "must be one of pip, conda, python_env"),
        ({"environment": '{"kind": "pip", "spec": "-e /srv/studio"}'}, "options are not accepted"),
        (
            {"environment": '{"kind": "conda", "spec": "dependencies: [numpy=1.21]"}'},
            "asks for conda packages (numpy=1.21)",
        ),
    ],
)
def test_a_bad_submission_is_refused_and_nothing_is_kept(
    client, default_workspace, settings, fields, message
):
    response = post_job(client, **fields)

    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert message in response.json()["message"]
    assert _uploads(settings) == [] and not Job.objects.exists() and not Run.objects.exists()


def test_a_body_that_is_not_a_zip_is_refused(client, default_workspace, settings):
    response = client.post(
        URL.format("default") + "?experiment_id=0&command=ls", data=b"hello", content_type="application/zip"
    )

    assert response.status_code == 400 and "must be a .zip" in response.json()["message"]
    assert _uploads(settings) == []


def test_a_snapshot_over_the_limit_is_refused_while_streaming(client, default_workspace, settings):
    settings.JOB_MAX_SNAPSHOT_BYTES = 1000
    response = post_job(client, files={"weights.bin": bytes(range(256)) * 40})

    assert response.status_code == 413
    assert (
        "larger than 1000 bytes" in response.json()["message"] and ".gitignore" in response.json()["message"]
    )
    assert _uploads(settings) == [] and not Job.objects.exists()


def test_an_unknown_workspace_or_experiment_is_not_found(client, default_workspace):
    assert post_job(client, workspace="nowhere").status_code == 404
    response = post_job(client, experiment_name="", experiment_id="99")
    assert response.status_code == 404 and response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_a_job_of_another_workspace_is_not_found(client, default_workspace, make_workspace):
    make_workspace("other")
    job_id = post_job(client).json()["id"]

    response = client.get(f"{URL.format('other')}/{job_id}")

    assert response.status_code == 404
    assert response.json() == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": f"Job {job_id} does not exist in workspace 'other'.",
    }


def test_cancelling_a_queued_job_kills_its_run_and_it_never_starts(client, default_workspace):
    job_id = post_job(client).json()["id"]

    body = client.post(f"{URL.format('default')}/{job_id}/cancel").json()
    run_job(job_id, worker="test@here")

    assert (body["status"], body["run_status"]) == ("CANCELLED", "KILLED")
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.run.status, job.attempts) == ("CANCELLED", "KILLED", 0)


def test_the_list_is_newest_first_in_a_fixed_number_of_queries(
    client, default_workspace, django_assert_max_num_queries
):
    ids = [post_job(client).json()["id"] for _ in range(4)]

    with django_assert_max_num_queries(3):
        body = client.get(URL.format("default")).json()

    assert [job["id"] for job in body["jobs"]] == ids[::-1]
    assert {job["run_status"] for job in body["jobs"]} == {"SCHEDULED"}


def test_the_time_limit_may_reach_the_servers_maximum_but_not_pass_it(client, default_workspace, settings):
    settings.JOB_MAX_TIME_LIMIT_SECONDS = 3600

    accepted = post_job(client, time_limit_seconds="3600")
    refused = post_job(client, time_limit_seconds="3601")

    assert accepted.status_code == 202 and accepted.json()["time_limit_seconds"] == 3600
    assert refused.status_code == 400
    assert refused.json()["message"] == (
        "'time_limit_seconds' may be at most 3600 seconds on this server "
        "(STUDIO_JOB_MAX_TIME_LIMIT_SECONDS); 3601 was asked for."
    )


def test_a_submission_with_an_environment_records_it_for_the_job(client, default_workspace):
    spec = "# training\nSix >= 1.0\ntomli\n"
    environment = json.dumps({"name": "tiny", "kind": "pip", "spec": spec})

    first = post_job(client, environment=environment)
    second = post_job(client, environment=environment.replace("tiny", "tiny-2"))

    assert first.status_code == second.status_code == 202, first.content
    one, two = (Job.objects.select_related("environment").get(pk=r.json()["id"]) for r in (first, second))
    assert one.environment == two.environment  # one row per workspace and specification
    recorded = two.environment
    assert (recorded.name, recorded.kind, recorded.spec_text, recorded.status) == (
        "tiny-2",
        "pip",
        spec,
        "PENDING",
    )
    assert recorded.requirements == ["mlflow-skinny", "six>=1.0", "tomli"]
