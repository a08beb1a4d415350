"""The run's Artifacts tab: the tree, previews, logged models, raw and sandboxed files, deleting, and paths."""

from __future__ import annotations

import io
import json

import pytest
from django.test import Client

from registry.services.model_versions import create_model_version
from registry.services.registered_models import create_registered_model
from tests.conftest import ensure_default_workspace
from tracking.services.artifacts import proxy_path, save_artifact
from tracking.services.experiments import create_experiment
from tracking.services.logged_models import create_logged_model
from tracking.services.runs import create_run

SIGNATURE = json.dumps([{"type": "double", "name": "sepal_length", "required": True}])
MLMODEL = f"""\
artifact_path: model
flavors:
  python_function:
    env: {{conda: conda.yaml, virtualenv: python_env.yaml}}
    loader_module: mlflow.sklearn
    model_path: model.pkl
    python_version: 3.11.7
  sklearn: {{pickled_model: model.pkl, serialization_format: cloudpickle, sklearn_version: 1.5.0}}
mlflow_version: 3.17.2
saved_input_example_info: {{artifact_path: input_example.json, type: dataframe}}
signature:
  inputs: '{SIGNATURE}'
  outputs: '[{{"type": "tensor", "tensor-spec": {{"dtype": "int64", "shape": [-1]}}}}]'
"""
MODEL_FILES = {
    "MLmodel": MLMODEL,
    "model.pkl": b"\x80\x04\x95\x00\x00binary",
    "conda.yaml": "name: mlflow-env\ndependencies:\n- python=3.11.7\n",
    "python_env.yaml": "python: 3.11.7\n",
    "requirements.txt": "mlflow==3.17.2\nscikit-learn==1.5.0\n",
    "input_example.json": '{"columns": ["sepal_length"], "data": [[5.1]]}',
}


@pytest.fixture(autouse=True)
def artifact_root(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    return settings.ARTIFACT_ROOT


@pytest.fixture
def workspace(db):
    return ensure_default_workspace()


@pytest.fixture
def experiment(workspace):
    return create_experiment(workspace=workspace, name="artifacts")


@pytest.fixture
def run(experiment):
    return create_run(experiment=experiment)


def put(workspace, uri: str, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        save_artifact(workspace=workspace, path=f"{proxy_path(uri)}/{name}", stream=io.BytesIO(data))


@pytest.fixture
def files(workspace, run):
    put(
        workspace,
        run.artifact_uri,
        {
            "notes.txt": "hello from the run\n",
            "metrics.json": '{"accuracy": 0.93, "f1": [0.9, 0.8]}',
            "config.yaml": "model: {depth: 3, trees: [1, 2]}\n",
            "data/train.csv": "sepal_length,species\n5.1,setosa\n4.9,setosa\n",
            "data/deep/readme.md": "# deep\n",
            "plots/loss.png": b"\x89PNG\r\n\x1a\nfake",
            "report.html": "<h1>Report</h1><script>alert(1)</script>",
            "report.pdf": b"%PDF-1.4 fake",
            "blob.bin": b"\x00\x01\x02binary",
        },
    )


def page_url(run, query: str = "", workspace: str = "default") -> str:
    return f"/ws/{workspace}/runs/{run.uuid}/artifacts/{query}"


def test_it_lists_the_run_files_folders_first(client, run, files):
    response = client.get(page_url(run))
    assert response.status_code == 200
    html = response.content.decode()
    names = [
        "data",
        "plots",
        "blob.bin",
        "config.yaml",
        "metrics.json",
        "notes.txt",
        "report.html",
        "report.pdf",
    ]
    positions = [html.index(f'<span class="tree-name">{name}</span>') for name in names]
    assert positions == sorted(positions)
    assert "train.csv" not in html  # a closed folder is not listed


def test_it_opens_every_folder_on_the_way_to_the_selected_path(client, run, files):
    html = client.get(page_url(run, "?path=data/deep/readme.md")).content.decode()
    assert '<span class="tree-name">train.csv</span>' in html
    assert '<span class="tree-name">readme.md</span>' in html
    assert "# deep" in html
    assert '<span class="tree-name">loss.png</span>' not in html


def test_a_folder_shows_its_entries(client, run, files):
    html = client.get(page_url(run, "?path=data")).content.decode()
    assert "deep/" in html and "train.csv" in html


def test_text_is_shown_as_text(client, run, files):
    response = client.get(page_url(run, "?path=notes.txt"))
    assert "hello from the run" in response.content.decode()


def test_json_and_yaml_are_pretty_printed_with_their_source_one_click_away(client, run, files):
    html = client.get(page_url(run, "?path=metrics.json")).content.decode()
    assert "{\n  &quot;accuracy&quot;: 0.93,\n  &quot;f1&quot;: [\n    0.9," in html
    assert "view=raw" in html
    source = client.get(page_url(run, "?path=metrics.json&view=raw")).content.decode()
    assert "{&quot;accuracy&quot;: 0.93, &quot;f1&quot;: [0.9, 0.8]}" in source
    yaml_html = client.get(page_url(run, "?path=config.yaml")).content.decode()
    assert "model:\n  depth: 3\n  trees:\n  - 1\n  - 2" in yaml_html


def test_a_csv_is_shown_as_a_table(client, run, files):
    html = client.get(page_url(run, "?path=data/train.csv")).content.decode()
    assert "<th>sepal_length</th><th>species</th>" in html
    assert "<td>4.9</td><td>setosa</td>" in html
    assert "2 rows." in html


def test_a_large_file_is_previewed_by_its_first_part(client, workspace, run):
    line = "0123456789" * 10 + "\n"
    put(workspace, run.artifact_uri, {"big.log": line * 30_000, "big.csv": "a,b\n" + "1,2\n" * 500_000})
    html = client.get(page_url(run, "?path=big.log")).content.decode()
    assert "Showing the first 256.0\xa0KB of 2.9\xa0MB" in html
    assert len(html) < 400_000
    table = client.get(page_url(run, "?path=big.csv")).content.decode()
    assert table.count("<td>1</td><td>2</td>") == 500
    assert "500 rows shown; the file has more" in table


class CountingHandle:
    """A file handle that counts the bytes read through it."""

    def __init__(self, handle):
        self.handle, self.bytes_read = handle, 0

    def read(self, size=-1):
        chunk = self.handle.read(size)
        self.bytes_read += len(chunk)
        return chunk

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()


def test_the_preview_never_reads_more_than_its_first_part(client, workspace, run, monkeypatch):
    from studio.views.artifacts import preview as views

    put(workspace, run.artifact_uri, {"huge.txt": "x" * (3 * 1024 * 1024)})
    handles = []
    real_open = views.open_artifact

    def counting_open(workspace, path):
        handle, size, name = real_open(workspace, path)
        handles.append(CountingHandle(handle))
        return handles[-1], size, name

    monkeypatch.setattr(views, "open_artifact", counting_open)
    assert client.get(page_url(run, "?path=huge.txt")).status_code == 200
    [handle] = handles
    assert handle.bytes_read == 256 * 1024 + 1  # the preview, and one byte to know there is more
    assert handle.handle.closed


def test_images_pdfs_and_html_are_rendered_by_the_browser_from_their_own_urls(client, run, files):
    image = client.get(page_url(run, "?path=plots/loss.png")).content.decode()
    assert '<img src="/ws/default/runs/' in image and "raw?path=plots%2Floss.png" in image
    pdf = client.get(page_url(run, "?path=report.pdf")).content.decode()
    assert 'class="doc-frame" src="/ws/default/runs/' in pdf
    html = client.get(page_url(run, "?path=report.html")).content.decode()
    assert '<iframe class="doc-frame html-frame" sandbox src="' in html
    assert "html?path=report.html" in html
    assert "<script>alert(1)</script>" not in html


def test_a_binary_file_offers_a_download_instead(client, run, files):
    html = client.get(page_url(run, "?path=blob.bin")).content.decode()
    assert "There is no preview for this kind of file." in html
    assert "raw?path=blob.bin&amp;download=1" in html


def test_an_mlmodel_in_the_run_files_is_shown_as_a_card(client, workspace, run):
    put(workspace, f"{run.artifact_uri}/model", MODEL_FILES)
    html = client.get(page_url(run, "?path=model/MLmodel")).content.decode()
    assert "MLflow model" in html
    assert '<span class="chip">python_function</span><span class="chip">sklearn</span>' in html
    assert "<code>sepal_length</code>" in html and '<code class="type">double</code>' in html
    assert '<code class="type">tensor int64 (-1)</code>' in html
    assert "scikit-learn==1.5.0" in html and "name: mlflow-env" in html
    assert "<thead><tr><th>sepal_length</th></tr></thead>" in html  # the input example, as a table
    assert "<td>5.1</td>" in html
    assert f"runs:/{run.uuid}/model" in html
    folder = client.get(page_url(run, "?path=model")).content.decode()
    assert "MLflow model" in folder and "model.pkl" in folder


def test_the_run_logged_models_are_listed_and_open_on_their_mlmodel(client, workspace, experiment, run):
    logged = create_logged_model(experiment=experiment, name="classifier", source_run_id=run.uuid)
    put(workspace, logged.artifact_location, MODEL_FILES)
    other = create_logged_model(experiment=experiment, name="not-this-run", source_run_id="f" * 32)
    html = client.get(page_url(run)).content.decode()
    assert "classifier" in html and f"model={logged.model_id}" in html
    assert "not-this-run" not in html
    card = client.get(page_url(run, f"?model={logged.model_id}")).content.decode()
    assert "MLflow model" in card and f"models:/{logged.model_id}" in card
    assert '<span class="tree-name">conda.yaml</span>' in card
    assert '<span class="tree-name">model.pkl</span>' in card
    assert client.get(page_url(run, f"?model={other.model_id}")).status_code == 404
    raw = client.get(page_url(run, f"raw?model={logged.model_id}&path=requirements.txt"))
    assert b"".join(raw.streaming_content) == MODEL_FILES["requirements.txt"].encode()


def test_raw_text_is_plain_text_that_cannot_run(client, run, files):
    response = client.get(page_url(run, "raw?path=report.html"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith(
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    )
    assert response["Content-Disposition"].startswith("inline")
    assert b"".join(response.streaming_content) == b"<h1>Report</h1><script>alert(1)</script>"


def test_a_download_is_an_attachment_and_supports_ranges(client, run, files):
    response = client.get(page_url(run, "raw?path=notes.txt&download=1"))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="notes.txt"'
    partial = client.get(page_url(run, "raw?path=notes.txt"), HTTP_RANGE="bytes=0-4")
    assert partial.status_code == 206
    assert b"".join(partial.streaming_content) == b"hello"


def test_html_is_served_only_through_the_sandboxed_path(client, run, files):
    response = client.get(page_url(run, "html?path=report.html"))
    assert response["Content-Type"] == "text/html; charset=utf-8"
    policy = response["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'; img-src data:; style-src 'unsafe-inline'")
    assert "sandbox" in policy.split("; ")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert client.get(page_url(run, "html?path=notes.txt")).status_code == 404


@pytest.mark.parametrize(
    "path",
    ["../../../etc/passwd", "%2e%2e/secret", "/etc/passwd", "data/../../x", "a\\..\\b", "C:/x"],
)
def test_paths_that_try_to_leave_the_run_are_refused(client, run, files, path):
    for url in (page_url(run), page_url(run, "raw"), page_url(run, "html")):
        response = client.get(url, {"path": path})
        assert response.status_code == 400, url
        assert b"Invalid artifact path" in response.content


def test_another_run_files_cannot_be_reached_through_this_run(client, workspace, experiment, run, files):
    other = create_run(experiment=experiment)
    put(workspace, other.artifact_uri, {"secret.txt": "other run"})
    assert client.get(page_url(run, f"raw?path=../../{other.uuid}/artifacts/secret.txt")).status_code == 400
    assert client.get(page_url(run, "raw?path=secret.txt")).status_code == 404


def test_unknown_runs_paths_and_other_workspaces_are_404(client, run, files, make_workspace):
    make_workspace("team-b")
    assert client.get(page_url(run, "?path=missing.txt")).status_code == 404
    assert client.get(page_url(run, "raw?path=data")).status_code == 404  # a folder has no bytes
    assert client.get(f"/ws/default/runs/{'0' * 32}/artifacts/").status_code == 404
    assert client.get(page_url(run, workspace="team-b")).status_code == 404
    assert client.get(page_url(run, workspace="nowhere")).status_code == 404


def test_file_names_with_markup_are_shown_as_text(client, workspace, run):
    put(workspace, run.artifact_uri, {"<img src=x onerror=alert(1)>.txt": "<b>bold</b>"})
    html = client.get(page_url(run, "?path=<img src=x onerror=alert(1)>.txt")).content.decode()
    assert "<img src=x onerror=alert(1)>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;.txt" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_deleting_needs_the_name_typed_back(client, run, files, artifact_root):
    response = client.post(page_url(run, "delete"), {"path": "data/train.csv", "confirm": "train"})
    assert response.status_code == 302
    html = client.get(response["Location"]).content.decode()
    assert "Nothing was deleted: type “train.csv” exactly to confirm." in html
    assert "<th>sepal_length</th>" in html  # still there


def test_deleting_a_file_goes_back_to_its_folder(client, run, files):
    response = client.post(page_url(run, "delete"), {"path": "data/train.csv", "confirm": "train.csv"})
    assert response.status_code == 302
    assert response["Location"] == page_url(run, "?path=data")
    assert client.get(page_url(run, "?path=data/train.csv")).status_code == 404
    assert "Deleted data/train.csv." in client.get(response["Location"]).content.decode()


def test_deleting_a_folder_deletes_what_is_in_it(client, run, files):
    response = client.post(page_url(run, "delete"), {"path": "data", "confirm": "data"})
    assert response["Location"] == page_url(run, "?path=")
    assert client.get(page_url(run, "?path=data/deep/readme.md")).status_code == 404
    assert client.get(page_url(run, "?path=notes.txt")).status_code == 200


def test_deleting_needs_a_post_with_a_csrf_token(run, files):
    strict = Client(enforce_csrf_checks=True)
    assert strict.get(page_url(run, "delete")).status_code == 405
    assert (
        strict.post(page_url(run, "delete"), {"path": "notes.txt", "confirm": "notes.txt"}).status_code == 403
    )
    assert strict.get(page_url(run, "?path=notes.txt")).status_code == 200


def test_the_page_carries_the_delete_form_with_its_token(client, run, files):
    html = client.get(page_url(run, "?path=notes.txt")).content.decode()
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'data-confirm-name="notes.txt"' in html


def test_deleting_the_root_or_outside_the_run_is_refused(client, run, files):
    assert client.post(page_url(run, "delete"), {"path": "", "confirm": ""}).status_code == 400
    assert client.post(page_url(run, "delete"), {"path": "../x", "confirm": "x"}).status_code == 400
    assert client.post(page_url(run, "delete"), {"path": "missing", "confirm": "missing"}).status_code == 404


def test_files_a_registered_version_uses_are_not_deleted(client, workspace, run):
    put(workspace, f"{run.artifact_uri}/model", MODEL_FILES)
    model = create_registered_model(workspace=workspace, name="kept")
    create_model_version(workspace=workspace, model=model, source=f"runs:/{run.uuid}/model", run_id=run.uuid)
    for path, name in (("model", "model"), ("model/model.pkl", "model.pkl")):
        response = client.post(page_url(run, "delete"), {"path": path, "confirm": name})
        assert (
            "registered model versions use these files (kept version 1)"
            in client.get(response["Location"]).content.decode()
        )
    assert client.get(page_url(run, "?path=model/model.pkl")).status_code == 200


def test_the_tab_reads_a_fixed_number_of_queries(
    client, workspace, experiment, run, files, django_assert_max_num_queries
):
    for index in range(5):
        logged = create_logged_model(experiment=experiment, name=f"m{index}", source_run_id=run.uuid)
        put(workspace, logged.artifact_location, {"MLmodel": MLMODEL})
    client.get(page_url(run))  # the workspace look-up is cached after this
    with django_assert_max_num_queries(4):  # the run, its experiment, its job (if any), its logged models
        assert client.get(page_url(run, "?path=data/deep/readme.md")).status_code == 200
