"""Artifacts through the real client: every log_* call, downloads, listings, and deletion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.object_stores import file_names

# Stored files: run again on each artifact store (STUDIO_TEST_ARTIFACT_STORE).
pytestmark = pytest.mark.artifacts


@pytest.fixture
def run(fluent, artifact_root):
    fluent.set_experiment("artifacts")
    with fluent.start_run() as active:
        yield active


def test_log_artifact_and_download_a_file(fluent, client, run, tmp_path):
    source = tmp_path / "report.txt"
    source.write_text("accuracy 0.93\n")
    fluent.log_artifact(str(source), artifact_path="reports")

    downloaded = client.download_artifacts(run.info.run_id, "reports/report.txt", str(tmp_path / "out"))
    assert Path(downloaded).read_text() == "accuracy 0.93\n"
    [listed] = client.list_artifacts(run.info.run_id, "reports")
    assert (listed.path, listed.is_dir, listed.file_size) == ("reports/report.txt", False, 14)


def test_log_artifacts_uploads_a_folder_of_200_files_and_downloads_it_back(fluent, client, run, tmp_path):
    folder = tmp_path / "many"
    (folder / "nested").mkdir(parents=True)
    for index in range(200):
        (folder / ("nested" if index % 2 else "") / f"file-{index:03d}.txt").write_text(f"content {index}")
    fluent.log_artifacts(str(folder), artifact_path="many")

    top = client.list_artifacts(run.info.run_id, "many")
    assert len(top) == 101
    assert sum(1 for f in top if f.is_dir) == 1
    target = Path(client.download_artifacts(run.info.run_id, "many", str(tmp_path / "back")))
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert len(files) == 200
    assert (target / "nested" / "file-199.txt").read_text() == "content 199"


def test_text_dict_image_table_and_figure(fluent, client, run, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fluent.log_text("free text", "notes/readme.md")
    fluent.log_dict({"layers": [64, 32], "dropout": 0.1}, "config/model.json")
    fluent.log_image(np.zeros((8, 8, 3), dtype=np.uint8), "images/black.png")
    fluent.log_table({"x": [1, 2], "y": ["a", "b"]}, "tables/table.json")
    figure, axis = plt.subplots()
    axis.plot([0, 1], [1, 0])
    fluent.log_figure(figure, "figures/line.png")

    run_id = run.info.run_id
    assert fluent.artifacts.load_text(f"runs:/{run_id}/notes/readme.md") == "free text"
    assert fluent.artifacts.load_dict(f"runs:/{run_id}/config/model.json") == {
        "layers": [64, 32],
        "dropout": 0.1,
    }
    assert fluent.artifacts.load_image(f"runs:/{run_id}/images/black.png").size == (8, 8)
    table = json.loads(
        Path(client.download_artifacts(run_id, "tables/table.json", str(tmp_path))).read_text()
    )
    assert table["data"] == [[1, "a"], [2, "b"]]
    assert {f.path for f in client.list_artifacts(run_id)} >= {
        "notes",
        "config",
        "images",
        "tables",
        "figures",
    }
    assert client.get_run(run_id).data.tags["mlflow.loggedArtifacts"]


def test_deleting_an_artifact_or_a_folder_frees_the_disk(fluent, client, run, artifact_root, tracking_uri):
    import requests

    fluent.log_text("x" * 10_000, "big/one.txt")
    fluent.log_text("y" * 10_000, "big/two.txt")
    fluent.log_text("keep", "keep.txt")
    base = f"{tracking_uri}/api/2.0/mlflow-artifacts/artifacts/{run.info.experiment_id}/{run.info.run_id}/artifacts"
    assert file_names(artifact_root) == ["keep.txt", "one.txt", "two.txt"]

    assert requests.delete(f"{base}/big/one.txt", timeout=30).status_code == 200
    assert [f.path for f in client.list_artifacts(run.info.run_id, "big")] == ["big/two.txt"]
    assert requests.delete(f"{base}/big", timeout=30).status_code == 200
    assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["keep.txt"]
    assert file_names(artifact_root) == ["keep.txt"]
    assert requests.delete(f"{base}/big", timeout=30).status_code == 200  # already gone: still fine


def test_the_tracking_api_lists_run_artifacts_too(fluent, run, tracking_uri):
    import requests

    fluent.log_text("a", "dir/a.txt")
    answer = requests.get(
        f"{tracking_uri}/api/2.0/mlflow/artifacts/list",
        params={"run_id": run.info.run_id, "path": "dir"},
        timeout=30,
    ).json()
    assert answer["root_uri"] == run.info.artifact_uri
    assert answer["files"] == [{"path": "dir/a.txt", "is_dir": False, "file_size": 1}]


def test_artifacts_of_one_workspace_are_not_reachable_from_another(fluent, run, tracking_uri, make_workspace):
    import requests

    fluent.log_text("secret", "secret.txt")
    make_workspace("other")
    path = (
        f"api/2.0/mlflow-artifacts/artifacts/{run.info.experiment_id}/{run.info.run_id}/artifacts/secret.txt"
    )
    assert requests.get(f"{tracking_uri}/{path}", timeout=30).text == "secret"
    response = requests.get(f"{tracking_uri}/ws/other/{path}", timeout=30)
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
