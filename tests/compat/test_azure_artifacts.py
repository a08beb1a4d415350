"""The server with its artifacts in Azure Blob Storage (Azurite): the real client logs, lists,
downloads and loads models through the server, and the blobs really appear in the container, and
vanish from it when the studio deletes them."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests


@pytest.fixture
def azure_server(deployed_server, azurite):
    """`manage.py serve` whose artifact root is a container in Azurite."""
    return deployed_server(STUDIO_ARTIFACT_ROOT=azurite.root_uri, **azurite.environment)


@pytest.fixture
def tracking_uri(azure_server) -> str:
    return azure_server.url


@pytest.fixture
def stored(azurite, azure_server) -> Callable[[], list[str]]:
    """The names of the blobs really in the default workspace's part of the container."""
    from tracking.models import Workspace
    from tracking.services.artifacts import workspace_prefix

    root = f"{azurite.root_uri}/{workspace_prefix(Workspace.objects.get(name='default'))}"
    return lambda: azurite.blob_names(root)


def wait_for_deletion(tracking_uri: str, deletion_id: int) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row = requests.get(f"{tracking_uri}/api/studio/v1/deletions/{deletion_id}", timeout=30).json()
        if row["status"] not in ("QUEUED", "RUNNING"):
            return row
        time.sleep(0.2)
    raise AssertionError(f"deletion {deletion_id} still {row['status']} after 60 s")


def test_artifacts_are_logged_listed_downloaded_and_deleted_in_azure(
    fluent, client, stored, tracking_uri, tmp_path
):
    report = tmp_path / "report.txt"
    report.write_text("accuracy 0.93\n")
    folder = tmp_path / "many"
    (folder / "nested").mkdir(parents=True)
    for index in range(20):
        (folder / ("nested" if index % 2 else "") / f"file-{index:02d}.txt").write_text(f"content {index}")
    # Larger than one staged block, so the server commits it from several.
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(12 * 1024 * 1024))

    fluent.set_experiment("on-azure")
    with fluent.start_run() as run:
        fluent.log_artifact(str(report), artifact_path="reports")
        fluent.log_artifacts(str(folder), artifact_path="many")
        fluent.log_artifact(str(weights))
    run_id, experiment_id = run.info.run_id, run.info.experiment_id
    in_run = f"{experiment_id}/{run_id}/artifacts"

    blobs = stored()
    assert f"{in_run}/reports/report.txt" in blobs and f"{in_run}/weights.bin" in blobs
    assert len([name for name in blobs if name.startswith(f"{in_run}/many/")]) == 20

    assert [(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id)] == [
        ("many", True, None),
        ("reports", True, None),
        ("weights.bin", False, 12 * 1024 * 1024),
    ]
    assert len(client.list_artifacts(run_id, "many")) == 11
    back = tmp_path / "back"
    assert (
        Path(client.download_artifacts(run_id, "reports/report.txt", str(back))).read_text()
        == "accuracy 0.93\n"
    )
    many = Path(client.download_artifacts(run_id, "many", str(back)))
    assert (many / "nested" / "file-19.txt").read_text() == "content 19"
    downloaded = Path(client.download_artifacts(run_id, "weights.bin", str(back)))
    assert hashlib.sha256(downloaded.read_bytes()).digest() == hashlib.sha256(weights.read_bytes()).digest()

    # A byte range of the large file, read from the middle of a block in Azure.
    artifacts = f"{tracking_uri}/api/2.0/mlflow-artifacts/artifacts/{in_run}"
    ranged = requests.get(f"{artifacts}/weights.bin", headers={"Range": "bytes=9000000-9000009"}, timeout=30)
    assert ranged.status_code == 206 and ranged.content == weights.read_bytes()[9_000_000:9_000_010]
    missing = requests.get(f"{artifacts}/nothing-here.txt", timeout=30)
    assert missing.status_code == 404

    # Deleting a file through the artifact proxy removes its blob, and only it.
    assert requests.delete(f"{artifacts}/reports/report.txt", timeout=30).status_code == 200
    assert f"{in_run}/reports/report.txt" not in stored()
    assert f"{in_run}/weights.bin" in stored()

    # Deleting the run for good in the studio (a worker does it) removes every blob of the run.
    deletions = f"{tracking_uri}/api/studio/v1/deletions"
    accepted = requests.post(deletions, json={"kind": "run", "name": run_id, "confirm": run_id}, timeout=30)
    assert accepted.status_code == 202
    assert wait_for_deletion(tracking_uri, accepted.json()["id"])["status"] == "SUCCEEDED"
    assert [name for name in stored() if name.startswith(f"{experiment_id}/{run_id}/")] == []


def test_a_logged_model_is_kept_in_azure_and_loads_back(fluent, client, stored):
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    features = rng.random((60, 4))
    labels = (features[:, 0] + features[:, 1] > 1).astype(int)
    fluent.set_experiment("models-on-azure")
    with fluent.start_run() as run:
        model = LogisticRegression().fit(features, labels)
        info = fluent.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])

    expected = model.predict(features)
    assert (fluent.pyfunc.load_model(f"runs:/{run.info.run_id}/model").predict(features) == expected).all()
    assert (fluent.pyfunc.load_model(f"models:/{info.model_id}").predict(features) == expected).all()
    listed = {f.path for f in client.list_logged_model_artifacts(info.model_id)}
    assert {"MLmodel", "conda.yaml", "requirements.txt"} <= listed
    model_blobs = [name for name in stored() if f"/{info.model_id}/" in name]
    assert {name.rpartition("/")[2] for name in model_blobs} == listed


def test_a_large_file_goes_to_azure_in_blocks_and_downloads_from_a_signed_url(
    client, stored, tracking_uri, tmp_path, monkeypatch
):
    """MLflow's direct transfers on Azure: the client PUTs each part to a signed Put Block URL
    (Azure answers it without an ETag, so the client reports none), the server commits the
    blocks in order, and a download follows the redirect to a signed URL of the blob."""
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(5 * 1024 * 1024))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(5 * 1024 * 1024))
    info = requests.get(f"{tracking_uri}/api/3.0/mlflow/server-info", timeout=30).json()
    assert info["multipart_uploads_enabled"] is True
    data = os.urandom(3 * 5 * 1024 * 1024 + 12345)  # three whole parts and a short fourth
    (tmp_path / "weights.bin").write_bytes(data)
    run_id = client.create_run("0").info.run_id

    client.log_artifact(run_id, str(tmp_path / "weights.bin"), "model")

    assert f"0/{run_id}/artifacts/model/weights.bin" in stored()
    download = f"{tracking_uri}/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/model/weights.bin"
    redirect = requests.get(download, allow_redirects=False, timeout=30)
    assert redirect.status_code == 302 and "sig=" in redirect.headers["Location"]
    back = client.download_artifacts(run_id, "model/weights.bin", str(tmp_path / "back"))
    assert hashlib.sha256(Path(back).read_bytes()).digest() == hashlib.sha256(data).digest()
