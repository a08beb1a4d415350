"""The real client against a server whose artifacts live in S3 (moto's real S3 server): logging,
models, downloads that the server redirects to signed URLs, uploads in parts straight to the store,
and the web process's memory while files far larger than its buffers go through it.

These run in every test run: on a run whose store is S3 (STUDIO_TEST_ARTIFACT_STORE=s3) against
the usual server, otherwise against a server of their own pointed at the session's S3 server.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.deployed import DeployedServer
from tests.object_stores import file_names
from tracking.artifacts import ArtifactStore, store_for

pytestmark = pytest.mark.artifacts

MiB = 1024 * 1024
PROXY = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture
def s3_server(s3_service, deployed, deployed_server) -> DeployedServer:
    if deployed.environment["STUDIO_ARTIFACT_ROOT"] == s3_service.artifact_root:
        return deployed
    return deployed_server(STUDIO_ARTIFACT_ROOT=s3_service.artifact_root, **s3_service.environment)


@pytest.fixture
def stored(s3_server) -> ArtifactStore:
    """The default workspace's part of that server's store, emptied."""
    from tracking.models import Workspace
    from tracking.services.artifacts import workspace_prefix

    root = s3_server.environment["STUDIO_ARTIFACT_ROOT"]
    workspace = Workspace.objects.get(name="default")
    store_for(root).delete(workspace_prefix(workspace))
    return store_for(root).within(workspace_prefix(workspace))


@pytest.fixture
def mlflow_on_s3(s3_server, stored):
    import mlflow

    mlflow.set_tracking_uri(s3_server.url)
    mlflow.set_registry_uri(s3_server.url)
    yield mlflow
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_registry_uri(None)


@pytest.fixture
def client(s3_server):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=s3_server.url, registry_uri=s3_server.url)


def big_file(path: Path, size: int) -> str:
    """A file of random bytes written a MiB at a time; its SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(size // MiB):
            chunk = os.urandom(MiB)
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


class PeakMemory:
    """The web processes' peak resident memory (VmHWM) during a block, above what each had before
    it: the kernel's high-water mark is reset at the start (clear_refs), so a buffer held for a
    moment counts, not only what is left at the end."""

    def __init__(self, server: DeployedServer) -> None:
        self.pids = web_pids(server)
        self.growth = 0

    def __enter__(self) -> PeakMemory:
        self.before = {}
        for pid in self.pids:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
            self.before[pid] = _status_kib(pid, "VmRSS")
        return self

    def __exit__(self, *exc) -> None:
        self.growth = max(_status_kib(pid, "VmHWM") - self.before[pid] for pid in self.pids) * 1024


def web_pids(server: DeployedServer) -> list[int]:
    """gunicorn's worker processes of a server (not its Celery worker, nor the supervisors)."""
    found, queue = [], [server.process.pid]
    while queue:
        pid = queue.pop()
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        for child in map(int, children):
            queue.append(child)
            command = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"gunicorn" in command and int(Path(f"/proc/{child}/stat").read_text().split()[3]) != pid:
                continue
            if b"gunicorn" in command:
                found.append(child)
    # The master starts the workers: the workers are the gunicorn processes whose parent is gunicorn.
    workers = [pid for pid in found if b"gunicorn" in Path(f"/proc/{_parent(pid)}/cmdline").read_bytes()]
    assert workers, f"no gunicorn workers under {server.name}"
    return workers


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for process {pid}")


# What the server says it can do


def test_server_info_offers_multipart_uploads_and_presigned_downloads(s3_server):
    info = requests.get(f"{s3_server.url}/api/3.0/mlflow/server-info", timeout=30).json()
    assert info["multipart_uploads_enabled"] is True
    assert info["multipart_downloads_enabled"] is True


def test_a_local_store_refuses_multipart_so_the_client_uploads_through_the_proxy(
    deployed_server, tmp_path, monkeypatch
):
    local = deployed_server(STUDIO_ARTIFACT_ROOT=str(tmp_path / "local-artifacts"))
    answer = requests.post(
        f"{local.url}/api/2.0/mlflow-artifacts/mpu/create/1/r/artifacts",
        json={"path": "/tmp/big.bin", "num_parts": 2},
        timeout=30,
    )
    assert answer.status_code == 501
    assert answer.json()["message"].startswith("Multipart upload is not supported")
    info = requests.get(f"{local.url}/api/3.0/mlflow/server-info", timeout=30).json()
    assert (info["multipart_uploads_enabled"], info["multipart_downloads_enabled"]) == (False, False)

    import mlflow
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(MiB))
    client = MlflowClient(local.url)
    run = client.create_run("0").info
    digest = big_file(tmp_path / "big.bin", 6 * MiB)
    client.log_artifact(run.run_id, str(tmp_path / "big.bin"), "data")
    back = mlflow.artifacts.download_artifacts(
        run_id=run.run_id,
        artifact_path="data/big.bin",
        dst_path=str(tmp_path / "back"),
        tracking_uri=local.url,
    )
    assert sha256(Path(back)) == digest


# Logging and reading back through the client


def test_logged_files_and_folders_are_stored_in_the_bucket_and_download_back(
    mlflow_on_s3, client, stored, tmp_path
):
    (tmp_path / "out" / "deep").mkdir(parents=True)
    (tmp_path / "out" / "a.txt").write_text("alpha")
    (tmp_path / "out" / "deep" / "b.json").write_text('{"b": 1}')
    with mlflow_on_s3.start_run() as run:
        mlflow_on_s3.log_artifacts(str(tmp_path / "out"), "results")
        mlflow_on_s3.log_text("hello", "notes/hello.txt")
    run_id = run.info.run_id
    assert file_names(stored) == ["a.txt", "b.json", "hello.txt"]
    assert [f.path for f in client.list_artifacts(run_id, "results")] == ["results/a.txt", "results/deep"]

    back = Path(client.download_artifacts(run_id, "results", str(tmp_path / "back")))
    assert (back / "a.txt").read_text() == "alpha"
    assert (back / "deep" / "b.json").read_text() == '{"b": 1}'
    assert mlflow_on_s3.artifacts.load_text(f"runs:/{run_id}/notes/hello.txt") == "hello"


def test_a_client_that_does_not_ask_for_signed_urls_follows_the_redirect(
    mlflow_on_s3, client, tmp_path, monkeypatch
):
    # Without presigned downloads (turned off, or an older client), it GETs the proxy's download
    # and follows the 302 to the store; the bytes still do not pass through the server.
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", "false")
    with mlflow_on_s3.start_run() as run:
        mlflow_on_s3.log_text("through the redirect", "notes/a.txt")
    back = client.download_artifacts(run.info.run_id, "notes/a.txt", str(tmp_path))
    assert Path(back).read_text() == "through the redirect"


def test_a_logged_model_loads_back(mlflow_on_s3, stored):
    from sklearn.linear_model import LogisticRegression

    features, labels = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
    model = LogisticRegression().fit(features, labels)
    with mlflow_on_s3.start_run():
        info = mlflow_on_s3.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
    loaded = mlflow_on_s3.pyfunc.load_model(info.model_uri)
    assert list(loaded.predict([[0.0], [3.0]])) == [0, 1]
    assert "MLmodel" in file_names(stored)


# Downloads go to the store


def test_a_proxy_download_redirects_to_a_signed_url_that_serves_the_file_and_its_ranges(s3_server, stored):
    stored.save("1/r/artifacts/page.html", [b"<script>alert(1)</script>"])
    answer = requests.get(
        f"{s3_server.url}{PROXY}/1/r/artifacts/page.html", allow_redirects=False, timeout=30
    )
    assert answer.status_code == 302
    assert answer.headers["Cache-Control"] == "private, no-store"
    location = answer.headers["Location"]
    assert "X-Amz-Signature=" in location and "response-content-disposition=attachment" in location

    followed = requests.get(f"{s3_server.url}{PROXY}/1/r/artifacts/page.html", timeout=30)
    assert followed.content == b"<script>alert(1)</script>"
    assert followed.headers["Content-Disposition"].startswith('attachment; filename="page.html"')
    ranged = requests.get(
        f"{s3_server.url}{PROXY}/1/r/artifacts/page.html", headers={"Range": "bytes=1-6"}, timeout=30
    )
    assert (ranged.status_code, ranged.content) == (206, b"script")


def test_a_missing_file_or_a_folder_is_answered_by_the_server_not_redirected(s3_server, stored):
    stored.save("1/r/artifacts/folder/a.txt", [b"x"])
    missing = requests.get(
        f"{s3_server.url}{PROXY}/1/r/artifacts/none.txt", allow_redirects=False, timeout=30
    )
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    folder = requests.get(f"{s3_server.url}{PROXY}/1/r/artifacts/folder", allow_redirects=False, timeout=30)
    assert (folder.status_code, folder.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    presigned = requests.get(
        f"{s3_server.url}/api/2.0/mlflow-artifacts/presigned/1/r/artifacts/none.txt", timeout=30
    )
    assert presigned.status_code == 404


def test_the_studios_download_link_redirects_and_its_previews_stay_on_the_server(mlflow_on_s3, s3_server):
    with mlflow_on_s3.start_run() as run:
        mlflow_on_s3.log_text("a,b\n1,2\n", "table.csv")
    base = f"{s3_server.url}/ws/default/runs/{run.info.run_id}/artifacts/raw"
    download = requests.get(
        base, params={"path": "table.csv", "download": "1"}, allow_redirects=False, timeout=30
    )
    assert download.status_code == 302
    assert requests.get(download.headers["Location"], timeout=30).content == b"a,b\n1,2\n"
    inline = requests.get(base, params={"path": "table.csv"}, allow_redirects=False, timeout=30)
    assert (inline.status_code, inline.content) == (200, b"a,b\n1,2\n")
    page = requests.get(
        f"{s3_server.url}/ws/default/runs/{run.info.run_id}/artifacts/",
        params={"path": "table.csv"},
        timeout=30,
    )
    assert page.status_code == 200, page.text[-2000:]
    assert "<td>2</td>" in page.text.replace(" ", ""), page.text[-4000:]


# Large files, and the server's memory


@pytest.fixture
def measured_server(s3_service, s3_server, deployed_server) -> Callable[..., DeployedServer]:
    """A server on the same store with one web process, whose memory a test can watch (with two,
    either may take a request); `presigned=False` streams downloads through it."""

    def get(*, presigned: bool) -> DeployedServer:
        return deployed_server(
            **s3_service.environment,
            STUDIO_ARTIFACT_ROOT=s3_server.environment["STUDIO_ARTIFACT_ROOT"],
            STUDIO_WEB_WORKERS="1",
            STUDIO_ARTIFACT_PRESIGNED_DOWNLOADS="true" if presigned else "false",
        )

    return get


def test_a_large_file_goes_to_the_store_in_parts_and_comes_back_whole(
    measured_server, stored, tmp_path, monkeypatch
):
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(5 * MiB))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(16 * MiB))
    server = measured_server(presigned=True)
    client = MlflowClient(server.url)
    run_id = client.create_run("0").info.run_id

    def round_trip(size: int) -> tuple[PeakMemory, PeakMemory]:
        digest = big_file(tmp_path / "weights.bin", size)
        with PeakMemory(server) as upload:
            client.log_artifact(run_id, str(tmp_path / "weights.bin"), f"model-{size}")
        assert stored.size(f"0/{run_id}/artifacts/model-{size}/weights.bin") == size
        with PeakMemory(server) as download:
            back = client.download_artifacts(
                run_id, f"model-{size}/weights.bin", str(tmp_path / f"back-{size}")
            )
        assert sha256(Path(back)) == digest
        Path(back).unlink()
        return upload, download

    round_trip(6 * MiB)  # what the first requests cost once (imports, the S3 client, connections)
    small = round_trip(24 * MiB)
    large = round_trip(112 * MiB)  # above 100 MB: 7 parts of 16 MiB
    # The bytes went between the client and the store: the server only signed URLs.
    for before, after in zip(small, large, strict=True):
        assert after.growth < before.growth + 8 * MiB, (before.growth, after.growth)
        assert after.growth < 16 * MiB, after.growth


def test_a_large_file_streamed_through_the_server_uses_bounded_memory(measured_server, stored, tmp_path):
    """Without direct transfers (a client that does not ask for them, downloads that must not
    redirect), a file far larger than the server's buffers passes through it in parts."""
    server = measured_server(presigned=False)

    def round_trip(size: int) -> tuple[PeakMemory, PeakMemory]:
        digest = big_file(tmp_path / "weights.bin", size)
        url = f"{server.url}{PROXY}/1/r/artifacts/weights-{size}.bin"
        with PeakMemory(server) as upload, (tmp_path / "weights.bin").open("rb") as body:
            assert requests.put(url, data=body, timeout=300).status_code == 200
        assert stored.size(f"1/r/artifacts/weights-{size}.bin") == size
        with PeakMemory(server) as download, requests.get(url, stream=True, timeout=300) as answer:
            assert answer.status_code == 200
            received = hashlib.sha256()
            for chunk in answer.iter_content(MiB):
                received.update(chunk)
        assert received.hexdigest() == digest
        return upload, download

    round_trip(10 * MiB)  # what the first requests cost once (imports, the S3 client, connections)
    small = round_trip(24 * MiB)
    large = round_trip(112 * MiB)
    # An 8 MiB part being filled and one being sent, a read-ahead block: the same for any size
    # (measured: about 17-25 MiB for an upload of either size, under 1 MiB for a download), give or
    # take what the allocator keeps per thread, far from the 88 MiB between the two files.
    for before, after in zip(small, large, strict=True):
        assert after.growth < before.growth + 24 * MiB, (before.growth, after.growth)
        assert after.growth < 48 * MiB, after.growth


# The multipart endpoints over raw HTTP

MPU = "/api/2.0/mlflow-artifacts/mpu"


def test_a_multipart_upload_by_hand_lands_under_the_folder_with_the_files_name(s3_server, stored):
    folder = f"{s3_server.url}{MPU}/%s/1/r/artifacts/model"
    created = requests.post(
        folder % "create", json={"path": "C:\\Users\\me\\w.bin", "num_parts": 2}, timeout=30
    )
    assert created.status_code == 200, created.text
    upload = created.json()
    assert [c["part_number"] for c in upload["credentials"]] == [1, 2]
    bodies = [b"a" * (5 * MiB), b"tail"]
    parts = [
        {
            "part_number": c["part_number"],
            "etag": requests.put(c["url"], data=body, timeout=60).headers["ETag"],
        }
        for c, body in zip(upload["credentials"], bodies, strict=True)
    ]
    completed = requests.post(
        folder % "complete",
        json={"path": "C:\\Users\\me\\w.bin", "upload_id": upload["upload_id"], "parts": parts},
        timeout=30,
    )
    assert (completed.status_code, completed.json()) == (200, {})
    assert stored.size("1/r/artifacts/model/w.bin") == 5 * MiB + 4


@pytest.mark.parametrize(
    ("action", "body", "message"),
    [
        ("create", {"path": "/tmp/w.bin", "num_parts": 0}, "1 to 10000 parts"),
        ("create", {"path": "/tmp/w.bin", "num_parts": 10_001}, "1 to 10000 parts"),
        ("create", {"path": "/tmp/w.bin"}, "'num_parts'"),
        ("create", {"num_parts": 2}, "'path'"),
        ("create", {"path": "/tmp/", "num_parts": 2}, "names no file"),
        ("create", {"path": "/tmp/w.bin", "num_parts": "many"}, "num_parts"),
        ("complete", {"path": "/tmp/w.bin", "parts": [{"part_number": 1, "etag": "x"}]}, "'upload_id'"),
        ("complete", {"path": "/tmp/w.bin", "upload_id": "u"}, "'parts'"),
        ("complete", {"path": "/tmp/w.bin", "upload_id": "u", "parts": [{"etag": "x"}]}, "'part_number'"),
        (
            "complete",
            {"path": "/tmp/w.bin", "upload_id": "u", "parts": [{"part_number": 0, "etag": "x"}]},
            "'part_number' of 1",
        ),
        ("complete", {"path": "/tmp/w.bin", "upload_id": "u", "parts": ["1"]}, "'parts[0]'"),
        (
            "complete",
            {"path": "/tmp/w.bin", "upload_id": "u", "parts": [{"part_number": 1, "etag": 7}]},
            "'parts[0].etag'",
        ),
        ("abort", {"path": "/tmp/w.bin"}, "'upload_id'"),
    ],
)
def test_bad_multipart_requests_are_answered_400(s3_server, stored, action, body, message):
    answer = requests.post(f"{s3_server.url}{MPU}/{action}/1/r/artifacts", json=body, timeout=30)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert message in answer.json()["message"]


@pytest.mark.parametrize("folder", ["..", "1/../../x", "%2e%2e/x", "1/r/a%5c..%5cb"])
def test_a_multipart_upload_cannot_leave_the_workspace(s3_server, stored, folder):
    where = urlsplit(s3_server.url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    # Sent as written: the requests library would take the dot segments out first.
    body = json.dumps({"path": "/tmp/w.bin", "num_parts": 1})
    connection.request(
        "POST", f"{MPU}/create/{folder}", body=body, headers={"Content-Type": "application/json"}
    )
    answer = connection.getresponse()
    assert answer.status == 400
    assert json.loads(answer.read())["error_code"] == "INVALID_PARAMETER_VALUE"
    connection.close()


def test_parts_that_do_not_match_are_refused_and_an_abort_leaves_nothing(s3_server, stored):
    folder = f"{s3_server.url}{MPU}/%s/1/r/artifacts"
    upload = requests.post(folder % "create", json={"path": "/tmp/w.bin", "num_parts": 1}, timeout=30).json()
    requests.put(upload["credentials"][0]["url"], data=b"part", timeout=30).raise_for_status()
    wrong = {
        "path": "/tmp/w.bin",
        "upload_id": upload["upload_id"],
        "parts": [{"part_number": 1, "etag": '"0"'}],
    }
    answer = requests.post(folder % "complete", json=wrong, timeout=30)
    assert (answer.status_code, answer.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    aborted = requests.post(
        folder % "abort", json={"path": "/tmp/w.bin", "upload_id": upload["upload_id"]}, timeout=30
    )
    assert aborted.status_code == 200
    assert file_names(stored) == []
