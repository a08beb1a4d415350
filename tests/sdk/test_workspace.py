"""The seed's workflow with the SDK against the server as it ships, sign-in required: config.json,
tracking tokens that renew themselves before they expire, and a remote run submitted to the
server's own worker, awaited, its metrics read and its model registered."""

from __future__ import annotations

import json
import time

import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import RestException
from studio_sdk import ConfigNotFound, Environment, Experiment, ScriptRunConfig, Workspace, auth

from tests.personas import PASSWORD

# An hour, compressed: tracking tokens (and a job's token) live this long on `short_tokens`.
TOKEN_SECONDS = 2


@pytest.fixture
def server(deployed_with_sign_in, team) -> str:
    return deployed_with_sign_in.url


@pytest.fixture
def short_tokens(deployed_server, auth_on, team) -> str:
    """A server whose tracking tokens expire after TOKEN_SECONDS."""
    return deployed_server(STUDIO_REQUIRE_AUTH="true", STUDIO_TRACKING_TOKEN_SECONDS=str(TOKEN_SECONDS)).url


def download_config(server: str, user, folder) -> None:
    """What the Settings page's download gives a signed-in person."""
    answer = requests.get(f"{server}/ws/team-a/config.json", auth=(user.username, PASSWORD), timeout=30)
    assert answer.status_code == 200, answer.text
    config = answer.json()
    assert config == {"server": server, "resource_group": "default", "workspace": "team-a"}
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
    short_tokens, team, personal_token, tmp_path, monkeypatch, fluent
):
    download_config(short_tokens, team.contributor, tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STUDIO_TOKEN", personal_token(team.contributor, team.workspace))

    ws = Workspace.from_config()
    fluent.set_tracking_uri(ws.get_mlflow_tracking_uri())
    fluent.set_experiment("long-training")
    started = time.monotonic()
    with fluent.start_run() as run:
        step = 0
        while time.monotonic() - started < 1.75 * TOKEN_SECONDS:  # outlives the first token and the second
            fluent.log_metric("loss", 1 / (step + 1), step=step)
            step += 1
            time.sleep(0.05)
    assert ws.tokens.fetches >= 3
    history = MlflowClient(ws.tracking_uri).get_metric_history(run.info.run_id, "loss")
    assert len(history) == step


def test_without_the_sdk_a_tracking_token_dies_mid_run(short_tokens, team, personal_token, monkeypatch):
    # The control for the test above: the same hour, compressed, with a token set by hand.
    answer = requests.post(
        f"{short_tokens}/api/studio/v1/workspaces/team-a/tracking-token",
        headers={"Authorization": f"Bearer {personal_token(team.owner, team.workspace)}"},
        timeout=30,
    )
    token = answer.json()["token"]
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    client = MlflowClient(f"{short_tokens}/ws/team-a")
    run_id = client.create_run("0").info.run_id
    time.sleep(TOKEN_SECONDS + 0.1)
    with pytest.raises(RestException) as excinfo:
        client.log_metric(run_id, "loss", 0.1)
    assert excinfo.value.error_code == "UNAUTHENTICATED"


def test_the_token_goes_only_to_the_workspaces_server(server, team, personal_token, monkeypatch, fluent):
    monkeypatch.setenv("STUDIO_TOKEN", personal_token(team.reader, team.workspace))
    ws = Workspace(server, "team-a")
    ws.get_mlflow_tracking_uri()
    provider = auth.StudioRequestHeaderProvider()
    fluent.set_tracking_uri("http://elsewhere.test:5000")
    assert not provider.in_context()
    fluent.set_tracking_uri(ws.tracking_uri)
    assert provider.in_context()
    assert provider.request_headers()["Authorization"].startswith("Bearer stt_")


SEED_SCRIPT = f"""
import argparse, time
import mlflow
import numpy as np
from sklearn.linear_model import Ridge

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float)
args = parser.parse_args()
features = np.random.RandomState(0).rand(60, 3)
target = features @ np.array([1.0, 2.0, 3.0])
with mlflow.start_run():
    for step in range(3):
        mlflow.log_metric("rmse", args.alpha * (3 - step), step=step)
        time.sleep(0.6 * {TOKEN_SECONDS})  # the job outlives its first tracking token
    model = Ridge(alpha=args.alpha).fit(features, target)
    mlflow.log_metric("r2", round(model.score(features, target), 4))
    mlflow.sklearn.log_model(
        model, name="model", serialization_format="cloudpickle", pip_requirements=["scikit-learn", "numpy"]
    )
print("trained")
"""
REQUIREMENTS = "scikit-learn>=1.4\nnumpy\npandas\n"


def test_the_seeds_remote_run_is_submitted_awaited_and_registered(
    short_tokens, team, personal_token, tmp_path, monkeypatch, fluent
):
    """The seed's remote run, with sign-in required: an environment from a requirements file, a
    named compute target, the server's worker running it in its sandbox while its token is renewed,
    its metrics read back, its model registered and loaded."""
    from tracking.models import ComputeTarget

    ComputeTarget.objects.get_or_create(name="default")
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(SEED_SCRIPT)
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "junk.pyc").write_bytes(b"x")
    (tmp_path / "requirements.txt").write_text(REQUIREMENTS)
    download_config(short_tokens, team.contributor, tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STUDIO_TOKEN", personal_token(team.contributor, team.workspace))

    ws = Workspace.from_config()
    fluent.set_tracking_uri(ws.get_mlflow_tracking_uri())
    env = Environment.from_pip_requirements(name="diabetes-env", file_path="requirements.txt")
    run = Experiment(ws, "diabetes").submit(
        ScriptRunConfig(
            source_directory=str(source),
            script="train.py",
            arguments=["--alpha", 0.5],
            environment=env,
            compute_target="default",
        )
    )
    assert run.id and run.status == "QUEUED"

    job = run.wait_for_completion(timeout=600, poll_seconds=0.5)
    assert job["status"] == "SUCCEEDED", job
    assert job["snapshot_files"] == 1  # __pycache__ left out
    metrics = run.get_metrics()
    assert metrics["rmse"] == [1.5, 1.0, 0.5] and 0 < metrics["r2"] <= 1
    version = run.register_model(model_name="diabetes-model", model_path="model")
    assert version.version == "1"
    registered = MlflowClient(ws.tracking_uri).get_model_version("diabetes-model", "1")
    assert (registered.run_id, registered.status) == (run.id, "READY")
    loaded = fluent.sklearn.load_model("models:/diabetes-model/1")
    assert loaded.predict([[1.0, 1.0, 1.0]]).shape == (1,)


def test_submitting_needs_a_contributor(server, team, personal_token, tmp_path):
    from studio_sdk import StudioError

    (tmp_path / "train.py").write_text("print('hi')\n")
    config = ScriptRunConfig(source_directory=str(tmp_path), script="train.py")

    reader = Workspace(server, "team-a", token=personal_token(team.reader, team.workspace))
    with pytest.raises(StudioError) as excinfo:
        Experiment(reader, "jobs").submit(config)
    assert excinfo.value.error_code == "PERMISSION_DENIED"
    contributor = Workspace(server, "team-a", token=personal_token(team.contributor, team.workspace))
    submitted = Experiment(contributor, "jobs").submit(config)
    assert submitted.status == "QUEUED"
    # Ended before the test's data is flushed away, so the worker is not writing to it meanwhile.
    submitted.cancel()
    with pytest.raises(StudioError):
        submitted.wait_for_completion(timeout=60, poll_seconds=0.2)
    outsider = Workspace(server, "team-a", token=personal_token(team.outsider, team.workspace))
    with pytest.raises(StudioError) as excinfo:
        Experiment(outsider, "jobs").submit(config)
    assert excinfo.value.status == 404
