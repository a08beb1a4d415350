"""Several machines on one database: two web servers (`serve --only web`) and two workers
(`serve --only worker`, the second with --no-beat), each with a data folder of its own and nothing
shared on disk, against PostgreSQL, Redis (broker and cache) and an S3 server.

The MLflow client writes through one web server and reads through the other; an import, a job
and a resource group's deletion are taken by whichever worker is free; a session, a token and
the charts' cache hold across both web servers.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tarfile
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests
from django.conf import settings

from tests.deployed import ROOT, free_port, stop_group, wait_for
from tests.personas import PASSWORD

pytestmark = [
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
        or not settings.CELERY_BROKER_URL.startswith("redis://"),
        reason="several machines share PostgreSQL and Redis (the suite's PostgreSQL + Redis pass runs this)",
    ),
]

TRAIN = """
import mlflow
with mlflow.start_run():
    mlflow.log_metric("loss", 0.25)
    mlflow.log_text("from a worker", "note.txt")
print("trained on", __import__("socket").gethostname())
"""


@dataclass
class Machine:
    name: str
    process: subprocess.Popen
    log_path: Path
    url: str = ""

    def log(self, size: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-size:]


def _redis_url(number: int) -> str:
    return re.sub(r"/\d*$", f"/{number}", settings.CELERY_BROKER_URL.rstrip("/"))


@pytest.fixture
def machines(transactional_db, deployed_servers, s3_service, default_environment, tmp_path):
    """Two web servers and two workers, sign-in required, on the run's S3 server."""
    import redis

    broker, cache = _redis_url(14), _redis_url(15)  # databases no server of the pool takes
    for url in (broker, cache):
        redis.Redis.from_url(url).flushdb()
    root = f"{s3_service.artifact_root}/topology-{uuid.uuid4().hex[:8]}"
    shared = {
        **deployed_servers.shared,
        **s3_service.environment,
        "CELERY_BROKER_URL": broker,
        "STUDIO_CACHE_URL": cache,
        "STUDIO_ARTIFACT_ROOT": root,
        "STUDIO_REQUIRE_AUTH": "true",
        "STUDIO_ACCESS_CACHE_SECONDS": "1",
    }
    # Each machine its own disk; jobs' environments are a cache every worker may build, shared
    # here only so that the test does not build mlflow-skinny twice.
    for name in ("STUDIO_JOBS_DIR", "STUDIO_IMPORTS_DIR"):
        shared.pop(name, None)
    started: list[Machine] = []

    def start(name: str, *arguments: str, port: int | None = None, server_url: str = "") -> Machine:
        data = tmp_path / name
        data.mkdir()
        env = {
            **os.environ,
            **shared,
            "STUDIO_DATA_DIR": str(data),
            "STUDIO_SERVER_URL": server_url or "http://127.0.0.1",
        }
        if port:
            env["STUDIO_PORT"] = str(port)
        log_path = data / "serve.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "manage.py", "serve", *arguments],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        machine = Machine(name, process, log_path, f"http://127.0.0.1:{port}" if port else "")
        started.append(machine)
        return machine

    ports = free_port(), free_port()
    webs = [start(f"web-{i}", "--only", "web", port=port) for i, port in enumerate(ports, 1)]
    workers = [
        start("worker-1", "--only", "worker", server_url=webs[0].url),
        start("worker-2", "--only", "worker", "--no-beat", server_url=webs[0].url),
    ]
    try:
        for web in webs:
            wait_for(lambda web=web: _healthy(web), 90, lambda web=web: f"{web.name}: {web.log()}")
        for worker in workers:
            wait_for(lambda worker=worker: b" ready." in worker.log_path.read_bytes(), 90,
                     lambda worker=worker: f"{worker.name}: {worker.log()}")  # fmt: skip
        yield webs, workers, root
    finally:
        for machine in started:
            stop_group(machine.process)


def _healthy(machine: Machine) -> bool:
    if machine.process.poll() is not None:
        raise AssertionError(f"{machine.name} exited: {machine.log()}")
    try:
        return requests.get(f"{machine.url}/health", timeout=2).text == "OK"
    except requests.RequestException:
        return False


def _objects(root: str) -> list[str]:
    bucket, _, prefix = root.removeprefix("s3://").partition("/")
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
    return [item["Key"][len(prefix) + 1 :] for page in pages for item in page.get("Contents", [])]


def _signed_in(web: Machine, username: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{web.url}/login/", timeout=30).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    answer = session.post(
        f"{web.url}/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{web.url}/login/"},
        timeout=30,
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text[-500:]
    return session


def _archive_of_mlruns(tmp_path: Path) -> bytes:
    from tests.integration.mlruns_generator import generate

    folder = tmp_path / "mlruns-source"
    generate(folder, runs=3, points=30, experiments=1)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(folder, arcname="mlruns")
    return buffer.getvalue()


@pytest.fixture
def lab(db, settings):
    """A resource group "lab" with one workspace, whose Owner is "owner"."""
    from django.contrib.auth import get_user_model

    from tracking.access.models import Membership, Role
    from tracking.models import ResourceGroup
    from tracking.services.workspaces import create_workspace

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    owner = get_user_model().objects.create_user(username="owner", password=PASSWORD)
    workspace = create_workspace(resource_group=ResourceGroup.objects.create(name="lab"), name="lab-ws")
    Membership.objects.create(user=owner, workspace=workspace, role=Role.OWNER)
    return workspace, owner


def test_two_web_servers_and_two_workers_share_one_workspace(
    machines, lab, personal_token, tmp_path, monkeypatch
):
    (web_a, web_b), workers, root = machines
    workspace, owner = lab
    personal = personal_token(owner, workspace)
    bearer = {"Authorization": f"Bearer {personal}", "X-Studio-Client": "tests"}
    api = "/api/studio/v1/workspaces/lab-ws"

    def logs() -> str:
        return "\n".join(f"--- {machine.name}\n{machine.log()}" for machine in (web_a, web_b, *workers))

    # A tracking token fetched from A is good on B: the client writes through A, reads through B.
    answer = requests.post(f"{web_a.url}{api}/tracking-token", headers=bearer, timeout=30)
    assert answer.status_code == 200, answer.text
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", answer.json()["token"])
    from mlflow import MlflowClient

    writer = MlflowClient(tracking_uri=f"{web_a.url}/ws/lab-ws")
    reader = MlflowClient(tracking_uri=f"{web_b.url}/ws/lab-ws")
    experiment_id = writer.create_experiment("shared")
    run_id = writer.create_run(experiment_id).info.run_id
    writer.log_metric(run_id, "loss", 1.0, step=0)
    note = tmp_path / "note.txt"
    note.write_text("written through A")
    writer.log_artifact(run_id, str(note))

    assert reader.get_run(run_id).data.metrics == {"loss": 1.0}
    assert [info.path for info in reader.list_artifacts(run_id)] == ["note.txt"]
    downloaded = reader.download_artifacts(run_id, "note.txt", str(tmp_path / "down"))
    assert Path(downloaded).read_text() == "written through A"
    assert any(key.endswith(f"{run_id}/artifacts/note.txt") for key in _objects(root))

    # A session made on A is valid on B (sessions live in the database; the key is shared).
    session = _signed_in(web_a, "owner")
    assert session.get(f"{web_b.url}/ws/lab-ws/", timeout=30, allow_redirects=False).status_code == 200

    # The charts' cache is shared (Redis) and never stale on B after a write through A.
    chart = f"{web_b.url}/ws/lab-ws/runs/{run_id}/metrics/data?key=loss"
    before = session.get(chart, timeout=30).json()["series"][0]
    writer.log_metric(run_id, "loss", 0.5, step=1)
    after = session.get(chart, timeout=30).json()["series"][0]
    assert before != after, (before, after)

    # An import uploaded to B and a job submitted to A: each taken by whichever worker is free,
    # each reading its upload from the store (no machine sees another's disk).
    imported = requests.post(
        f"{web_b.url}{api}/imports",
        files={"file": ("mlruns.tar.gz", _archive_of_mlruns(tmp_path), "application/gzip")},
        headers=bearer,
        timeout=60,
    )
    assert imported.status_code == 202, imported.text
    snapshot = io.BytesIO()
    with zipfile.ZipFile(snapshot, "w") as files:
        files.writestr("train.py", TRAIN)
    submitted = requests.post(
        f"{web_a.url}{api}/jobs",
        files={"file": ("project.zip", snapshot.getvalue(), "application/zip")},
        data={"command": "python train.py", "experiment_name": "remote"},
        headers=bearer,
        timeout=60,
    )
    assert submitted.status_code == 202, submitted.text

    def ended(path: str) -> dict | None:
        row = requests.get(f"{web_b.url}{api}/{path}", headers=bearer, timeout=30).json()
        return row if row["status"] in ("SUCCEEDED", "FAILED", "CANCELLED") else None

    done_import = wait_for(lambda: ended(f"imports/{imported.json()['id']}"), 120, logs)
    done_job = wait_for(lambda: ended(f"jobs/{submitted.json()['id']}"), 240, logs)
    assert done_import["status"] == "SUCCEEDED", (done_import, logs())
    assert done_job["status"] == "SUCCEEDED", done_job["error"]
    assert reader.get_run(done_job["run_id"]).data.metrics == {"loss": 0.25}
    output = requests.get(f"{web_b.url}{api}/jobs/{done_job['id']}/output", headers=bearer, timeout=30)
    assert "trained on" in output.json()["text"]
    assert len(reader.search_runs([str(n) for n in done_import["experiment_numbers"]])) == 3
    # Nothing handed to the workers stays staged once they are done with it.
    assert [key for key in _objects(root) if key.startswith("staging/")] == []

    # The personal token revoked (in the database, by any server) takes its tracking token with
    # it on B too, within the access cache's second.
    from tracking.access.models import AccessToken
    from tracking.access.tokens import revoke_token

    revoke_token(AccessToken.objects.get(user=owner, kind="personal"))
    time.sleep(1.5)
    refused = requests.get(
        f"{web_b.url}/ws/lab-ws/api/2.0/mlflow/experiments/get",
        params={"experiment_id": experiment_id},
        headers={"Authorization": f"Bearer {answer.json()['token']}"},
        timeout=30,
    )
    assert refused.status_code == 401, refused.text

    # The resource group's deletion, asked of B, is done by a worker and removes every object
    # of its workspace from the store.
    csrf = session.cookies.get("csrftoken", "")
    deletion = session.post(
        f"{web_b.url}/api/studio/v1/deletions",
        json={"kind": "resource_group", "name": "lab", "confirm": "lab"},
        headers={"X-CSRFToken": csrf, "Referer": f"{web_b.url}/"},
        timeout=30,
    )
    assert deletion.status_code in (200, 202), deletion.text

    def deletion_ended() -> dict | None:
        row = session.get(f"{web_a.url}/api/studio/v1/deletions/{deletion.json()['id']}", timeout=30).json()
        return row if row["status"] in ("SUCCEEDED", "FAILED") else None

    assert wait_for(deletion_ended, 120, logs)["status"] == "SUCCEEDED"
    assert [key for key in _objects(root) if key.startswith(f"workspaces/{workspace.pk}/")] == []
    # Only the first worker runs the periodic tasks.
    assert "beat: Starting" in workers[0].log(10**6) and "beat: Starting" not in workers[1].log(10**6)
