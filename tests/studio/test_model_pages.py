"""The Models area: the searchable list, a model's page, a version's Details and Artifacts tabs."""

from __future__ import annotations

import io
from urllib.parse import quote

import pytest

from registry.models import FAILED_REGISTRATION, RegisteredModel
from registry.services.model_versions import create_model_version, transition_model_version_stage
from registry.services.registered_models import (
    create_registered_model,
    set_registered_model_alias,
    set_registered_model_tag,
)
from tests.conftest import ensure_default_workspace
from tracking.services.artifacts import proxy_path, save_artifact
from tracking.services.experiments import create_experiment
from tracking.services.logged_models import create_logged_model
from tracking.services.runs import create_run

from .test_artifact_pages import MODEL_FILES


@pytest.fixture(autouse=True)
def artifact_root(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    return settings.ARTIFACT_ROOT


@pytest.fixture
def workspace(db):
    return ensure_default_workspace()


@pytest.fixture
def experiment(workspace):
    return create_experiment(workspace=workspace, name="models")


@pytest.fixture
def run(experiment):
    return create_run(experiment=experiment)


def put(workspace, uri: str, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        save_artifact(workspace=workspace, path=f"{proxy_path(uri)}/{name}", stream=io.BytesIO(data))


@pytest.fixture
def register(workspace, experiment, run):
    """Logs a model's files for `run` and registers them as the next version of `name`."""

    def make(name: str, **kwargs):
        model = RegisteredModel.objects.filter(workspace=workspace, name=name).first()
        model = model or create_registered_model(workspace=workspace, name=name)
        logged = create_logged_model(experiment=experiment, name="model", source_run_id=run.uuid)
        put(workspace, logged.artifact_location, MODEL_FILES)
        return create_model_version(
            workspace=workspace,
            model=model,
            source=f"models:/{logged.model_id}",
            model_id=logged.model_id,
            run_id=run.uuid,
            **kwargs,
        )

    return make


def models_url(query: str = "") -> str:
    return f"/ws/default/models/{query}"


def model_url(name: str, rest: str = "") -> str:
    return f"/ws/default/models/{quote(name)}/{rest}"


# --- The list ----------------------------------------------------------------------------------


def test_the_list_shows_latest_version_aliases_tags_and_last_update(client, workspace, register):
    register("iris-classifier")
    second = register("iris-classifier")
    set_registered_model_alias(model=second.registered_model, alias="champion", version="2")
    set_registered_model_tag(model=second.registered_model, key="team", value="vision")
    set_registered_model_tag(model=second.registered_model, key="mlflow.internal", value="hidden")
    html = client.get(models_url()).content.decode()
    assert '<a href="/ws/default/models/iris-classifier/">iris-classifier</a>' in html
    assert '<a href="/ws/default/models/iris-classifier/versions/2/">Version 2</a>' in html
    assert "@champion · v2" in html
    assert "team: vision" in html
    assert "mlflow.internal" not in html


def test_the_list_leaves_prompts_out(client, workspace):
    prompt = create_registered_model(workspace=workspace, name="a-prompt")
    set_registered_model_tag(model=prompt, key="mlflow.prompt.is_prompt", value="true")
    create_registered_model(workspace=workspace, name="a-model")
    html = client.get(models_url()).content.decode()
    assert "a-model" in html and "a-prompt" not in html


def test_search_finds_names_containing_the_text_in_any_case(client, workspace):
    for name in ("Fraud Detector", "fraud-v2", "churn", "100%_sure"):
        create_registered_model(workspace=workspace, name=name)
    html = client.get(models_url(), {"q": "FRAUD"}).content.decode()
    assert "Fraud Detector" in html and "fraud-v2" in html and "churn" not in html
    assert 'value="FRAUD"' in html
    literal = client.get(models_url(), {"q": "%_"}).content.decode()
    assert "100%_sure" in literal and "churn" not in literal
    assert "No model name contains “nothing”." in client.get(models_url(), {"q": "nothing"}).content.decode()


def test_the_list_is_paged(client, workspace):
    for index in range(55):
        create_registered_model(workspace=workspace, name=f"model-{index:02d}")
    first = client.get(models_url()).content.decode()
    assert "model-49" in first and "model-50" not in first and "page=2" in first
    second = client.get(models_url(), {"page": "2"}).content.decode()
    assert "model-50" in second and "model-54" in second and "model-49" not in second
    assert client.get(models_url(), {"page": "x"}).status_code == 200


def test_the_list_reads_two_queries_whatever_the_page_holds(
    client, workspace, register, django_assert_max_num_queries
):
    for index in range(20):
        model = create_registered_model(workspace=workspace, name=f"m{index}")
        set_registered_model_tag(model=model, key="k", value=str(index))
    version = register("with-versions")
    set_registered_model_alias(model=version.registered_model, alias="prod", version="1")
    client.get(models_url())  # the workspace look-up is cached after this
    with django_assert_max_num_queries(2):
        html = client.get(models_url()).content.decode()
    assert "@prod · v1" in html and "k: 19" in html


def test_names_and_tags_with_markup_are_shown_as_text(client, workspace):
    model = create_registered_model(workspace=workspace, name="<img src=x onerror=alert(1)>")
    set_registered_model_tag(model=model, key="note", value="<script>alert('tag')</script>")
    html = client.get(models_url()).content.decode()
    assert "<img src=x onerror=alert(1)>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>alert('tag')</script>" not in html
    page = client.get(model_url(model.name)).content.decode()
    assert "&lt;script&gt;alert(&#x27;tag&#x27;)&lt;/script&gt;" in page
    assert "<img src=x" not in page


# --- A model -----------------------------------------------------------------------------------


def test_the_model_page_lists_versions_with_stage_aliases_status_and_run(client, workspace, run, register):
    first = register("iris", description="")
    register("iris")
    model = first.registered_model
    model.description = "Classifies irises."
    model.save()
    set_registered_model_alias(model=model, alias="champion", version="1")
    transition_model_version_stage(version=first, stage="Production", archive_existing_versions=False)
    html = client.get(model_url("iris")).content.decode()
    assert "Classifies irises." in html
    assert html.index("Version 2</a>") < html.index("Version 1</a>")
    assert '<span class="chip stage">Production</span>' in html
    assert '<span class="chip alias">@champion</span>' in html
    assert f'<a href="/ws/default/runs/{run.uuid}/">' in html
    assert "models:/m-" in html
    assert "Ready" in html or "READY" in html


def test_names_with_spaces_and_dots_are_url_encoded(client, workspace, register):
    register("my model v1.2")
    listing = client.get(models_url()).content.decode()
    assert 'href="/ws/default/models/my%20model%20v1.2/"' in listing
    assert client.get("/ws/default/models/my%20model%20v1.2/").status_code == 200
    assert client.get("/ws/default/models/my%20model%20v1.2/versions/1/").status_code == 200
    assert client.get("/ws/default/models/my%20model%20v1.2/versions/1/artifacts/").status_code == 200


def test_unknown_models_and_versions_are_404(client, workspace, register, make_workspace):
    register("known")
    make_workspace("team-c")
    assert client.get(model_url("unknown")).status_code == 404
    assert client.get(model_url("known", "versions/9/")).status_code == 404
    assert client.get(model_url("known", "versions/abc/")).status_code == 404
    assert client.get(model_url("known", "versions/9/artifacts/")).status_code == 404
    assert client.get("/ws/team-c/models/known/").status_code == 404
    assert client.get("/ws/nowhere/models/").status_code == 404
    assert client.get(model_url("..")).status_code == 404


# --- A version ---------------------------------------------------------------------------------


def test_the_version_details_show_signature_requirements_and_lineage(client, run, register):
    version = register("iris")
    html = client.get(model_url("iris", "versions/1/")).content.decode()
    assert '<a href="/ws/default/models/iris/versions/1/" aria-current="page">Details</a>' in html
    assert f'<a href="/ws/default/runs/{run.uuid}/"><code>{run.uuid}</code></a>' in html
    assert f"models:/{version.model_id}" in html
    assert "<code>sepal_length</code>" in html and '<code class="type">double</code>' in html
    assert "scikit-learn==1.5.0" in html and "name: mlflow-env" in html
    assert "mlflow.pyfunc.load_model(&quot;models:/iris/1&quot;)" in html


def test_a_failed_registration_says_why(client, workspace, experiment, run):
    logged = create_logged_model(experiment=experiment, name="notes", source_run_id=run.uuid)
    put(workspace, logged.artifact_location, {"notes.txt": "not a model"})
    model = create_registered_model(workspace=workspace, name="broken")
    version = create_model_version(
        workspace=workspace, model=model, source=f"models:/{logged.model_id}", model_id=logged.model_id
    )
    assert version.status == FAILED_REGISTRATION
    html = client.get(model_url("broken", "versions/1/")).content.decode()
    assert "Registration failed." in html
    assert "There is no MLmodel file" in html


@pytest.mark.parametrize(
    "source",
    ["runs:/0123abc/model", "s3://bucket/<script>alert(1)</script>/model", "models:/elsewhere/2"],
)
def test_an_external_source_is_badged_and_shown_as_plain_text(client, workspace, source):
    model = create_registered_model(workspace=workspace, name="remote")
    run_id = "0123abc" if source.startswith("runs:") else None
    create_model_version(workspace=workspace, model=model, source=source, run_id=run_id)
    html = client.get(model_url("remote", "versions/1/")).content.decode()
    assert html.count(">External source</span>") == 1
    assert "<script>alert(1)</script>" not in html
    escaped = source.replace("<", "&lt;").replace(">", "&gt;")
    assert f'<code class="break">{escaped}</code>' in html
    assert "(deleted)" not in html


def test_a_version_on_this_server_has_no_external_badge(client, register):
    register("iris")
    assert "External source" not in client.get(model_url("iris", "versions/1/")).content.decode()


def test_the_artifacts_tab_opens_on_the_mlmodel_and_lists_the_model_files(client, register):
    register("iris")
    html = client.get(model_url("iris", "versions/1/artifacts/")).content.decode()
    assert '<a href="/ws/default/models/iris/versions/1/artifacts/" aria-current="page">Artifacts</a>' in html
    assert "MLflow model" in html
    for name in ("MLmodel", "conda.yaml", "requirements.txt", "model.pkl"):
        assert f'<span class="tree-name">{name}</span>' in html
    model_file = client.get(
        model_url("iris", "versions/1/artifacts/"), {"path": "model.pkl"}
    ).content.decode()
    assert "There is no preview for this kind of file." in model_file
    assert "raw?path=model.pkl&amp;download=1" in model_file
    download = client.get(
        model_url("iris", "versions/1/artifacts/raw"), {"path": "model.pkl", "download": "1"}
    )
    assert download["Content-Disposition"] == 'attachment; filename="model.pkl"'
    assert b"".join(download.streaming_content) == MODEL_FILES["model.pkl"]
    folder = client.get(model_url("iris", "versions/1/artifacts/"), {"path": ""}).content.decode()
    assert "model.pkl" in folder and "folder-list" in folder


def test_the_artifacts_tab_offers_no_delete(client, register):
    register("iris")
    html = client.get(model_url("iris", "versions/1/artifacts/"), {"path": "conda.yaml"}).content.decode()
    assert "Delete…" not in html
    assert (
        client.post(model_url("iris", "versions/1/artifacts/delete"), {"path": "conda.yaml"}).status_code
        == 404
    )


def test_version_paths_are_checked_like_run_paths(client, register):
    register("iris")
    for url in ("versions/1/artifacts/", "versions/1/artifacts/raw", "versions/1/artifacts/html"):
        assert client.get(model_url("iris", url), {"path": "../../../../x"}).status_code == 400


def test_a_version_stored_elsewhere_lists_what_registration_saw(client, workspace):
    model = create_registered_model(workspace=workspace, name="remote")
    create_model_version(workspace=workspace, model=model, source="s3://bucket/models/remote")
    html = client.get(model_url("remote", "versions/1/artifacts/")).content.decode()
    assert "stored outside this server" in html and "s3://bucket/models/remote" in html
    assert client.get(model_url("remote", "versions/1/artifacts/raw"), {"path": "MLmodel"}).status_code == 404


def test_the_version_pages_read_few_queries(client, register, django_assert_max_num_queries):
    register("iris")
    client.get(model_url("iris"))
    with django_assert_max_num_queries(4):
        client.get(model_url("iris"))
    with django_assert_max_num_queries(3):
        client.get(model_url("iris", "versions/1/"))
    with django_assert_max_num_queries(2):
        client.get(model_url("iris", "versions/1/artifacts/"))
