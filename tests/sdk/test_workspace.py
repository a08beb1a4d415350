"""The seed's workflow with the SDK against a live server: config.json, tracking tokens that
renew themselves before they expire, and a remote run submitted, awaited and registered."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client
from mlflow import MlflowClient
from mlflow.exceptions import RestException
from studio_sdk import ConfigNotFound, Experiment, ScriptRunConfig, Workspace, auth


@pytest.fixture
def server(tracking_uri, team):
    return tracking_uri


def download_config(server: str, user, folder) -> None:
    browser = Client()
    browser.force_login(user)
    config = json.loads(browser.get("/ws/team-a/config.json").content)
    assert config["workspace"] == "team-a" and config["resource_group"] == "default"
    config["server"] = server  # the test client answers as http://testserver
    (folder / "config.json").write_text(json.dumps(config))


def test_from_config_searches_this_folder_and_the_ones_above(tmp_path, monkeypatch):
    (tmp_path / "config.json").write_text(
        json.dumps({"server": "http://s:1/", "workspace": "w", "resource_group": "g"})
    )
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    ws = Workspace.from_config()
    assert (ws.server, ws.name, ws.resource_group) == ("http://s:1", "w", "g")
    assert ws.get_mlflow_tracking_uri() == "http://s:1/ws/w"


def test_from_config_says_where_to_get_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigNotFound, match="Settings page"):
        Workspace.from_config()


def test_the_token_is_renewed_before_it_expires_so_a_long_run_never_fails(
    server, auth_on, team, personal_token, tmp_path, monkeypatch, fluent
):
    auth_on.TRACKING_TOKEN_SECONDS = 2  # an hour, compressed
    download_config(server, team.contributor, tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STUDIO_TOKEN", personal_token(team.contributor, team.workspace))

    ws = Workspace.from_config()
    fluent.set_tracking_uri(ws.get_mlflow_tracking_uri())
    fluent.set_experiment("long-training")
    started = time.monotonic()
    with fluent.start_run() as run:
        step = 0
        while time.monotonic() - started < 3.5:  # outlives the first token and the second
            fluent.log_metric("loss", 1 / (step + 1), step=step)
            step += 1
            time.sleep(0.05)
    assert ws.tokens.fetches >= 3
    history = MlflowClient(ws.tracking_uri).get_metric_history(run.info.run_id, "loss")
    assert len(history) == step


def test_without_the_sdk_a_tracking_token_dies_mid_run(server, auth_on, team, personal_token, monkeypatch):
    # The control for the test above: the same hour, compressed, with a token set by hand.
    auth_on.TRACKING_TOKEN_SECONDS = 1
    token = (
        Client()
        .post(
            "/api/studio/v1/workspaces/team-a/tracking-token",
            HTTP_AUTHORIZATION=f"Bearer {personal_token(team.owner, team.workspace)}",
        )
        .json()["token"]
    )
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    client = MlflowClient(f"{server}/ws/team-a")
    run_id = client.create_run("0").info.run_id
    time.sleep(1.1)
    with pytest.raises(RestException) as excinfo:
        client.log_metric(run_id, "loss", 0.1)
    assert excinfo.value.error_code == "UNAUTHENTICATED"


def test_the_token_goes_only_to_the_workspaces_server(
    server, auth_on, team, personal_token, monkeypatch, fluent
):
    monkeypatch.setenv("STUDIO_TOKEN", personal_token(team.reader, team.workspace))
    ws = Workspace(server, "team-a")
    ws.get_mlflow_tracking_uri()
    provider = auth.StudioRequestHeaderProvider()
    fluent.set_tracking_uri("http://elsewhere.test:5000")
    assert not provider.in_context()
    fluent.set_tracking_uri(ws.tracking_uri)
    assert provider.in_context()
    assert provider.request_headers()["Authorization"].startswith("Bearer stt_")


SEED_SCRIPT = """
import argparse, os
import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float)
args = parser.parse_args()
with mlflow.start_run():
    for step in range(3):
        mlflow.log_metric("rmse", args.alpha * (3 - step), step=step)
    mlflow.log_metric("r2", 0.75)
    os.makedirs("outputs/model", exist_ok=True)
    with open("outputs/model/MLmodel", "w") as handle:
        handle.write("flavors:\\n  python_function:\\n    loader_module: diabetes\\n")
    mlflow.log_artifacts("outputs/model", "model")
print("trained")
"""


def test_the_seeds_remote_run_is_submitted_awaited_and_registered(
    server, settings, tmp_path, monkeypatch, fluent, sandbox_reachable_folder
):
    """Experiment(ws, name).submit(ScriptRunConfig(...)) -> Run, as the seed writes it (local mode)."""
    from tracking.jobs import runner

    settings.SERVER_URL = server
    settings.JOBS_DIR = sandbox_reachable_folder / "jobs"  # the sandbox's user must reach it
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    submitted: list[int] = []
    monkeypatch.setattr("tracking.services.jobs.enqueue_job", submitted.append)  # no broker here
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(SEED_SCRIPT)
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "junk.pyc").write_bytes(b"x")

    ws = Workspace(server, "team-a")
    fluent.set_tracking_uri(ws.get_mlflow_tracking_uri())
    run = Experiment(ws, "diabetes").submit(
        ScriptRunConfig(source_directory=str(source), script="train.py", arguments=["--alpha", 0.5])
    )
    assert submitted == [run.job_id] and run.id
    runner.run_job(run.job_id, worker="test")  # what the Celery worker does with the message

    job = run.wait_for_completion(timeout=60, poll_seconds=0.1)
    assert job["status"] == "SUCCEEDED"
    assert run.get_metrics() == {"r2": 0.75, "rmse": [1.5, 1.0, 0.5]}
    version = run.register_model(model_name="diabetes-model", model_path="model")
    assert version.version == "1"
    assert MlflowClient(ws.tracking_uri).get_registered_model("diabetes-model").name == "diabetes-model"


def test_submitting_needs_a_contributor(
    server, auth_on, team, personal_token, tmp_path, settings, monkeypatch
):
    from studio_sdk import StudioError

    settings.JOBS_DIR = tmp_path / "jobs"
    monkeypatch.setattr("tracking.services.jobs.enqueue_job", lambda job_id: None)
    (tmp_path / "train.py").write_text("print('hi')\n")
    config = ScriptRunConfig(source_directory=str(tmp_path), script="train.py")

    reader = Workspace(server, "team-a", token=personal_token(team.reader, team.workspace))
    with pytest.raises(StudioError) as excinfo:
        Experiment(reader, "jobs").submit(config)
    assert excinfo.value.error_code == "PERMISSION_DENIED"
    contributor = Workspace(server, "team-a", token=personal_token(team.contributor, team.workspace))
    assert Experiment(contributor, "jobs").submit(config).status == "QUEUED"
    outsider = Workspace(server, "team-a", token=personal_token(team.outsider, team.workspace))
    with pytest.raises(StudioError) as excinfo:
        Experiment(outsider, "jobs").submit(config)
    assert excinfo.value.status == 404
