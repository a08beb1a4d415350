"""`manage.py serve` (what `make run` runs): web server and worker up, the seed snippet logs, Ctrl-C stops all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import requests

from .conftest import ROOT, child_environment, free_port, wait_for

SEED_SNIPPET = textwrap.dedent(
    """
    import mlflow
    mlflow.set_tracking_uri({uri!r})
    mlflow.set_experiment("experiment_with_mlflow")
    with mlflow.start_run():
        mlflow.log_metric("alpha", 0.03)
    """
)


@pytest.fixture
def served(tmp_path):
    port = free_port()
    env = child_environment(
        STUDIO_DATA_DIR=str(tmp_path / "data"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'data' / 'studio.sqlite3'}",
        STUDIO_PORT=str(port),
        STUDIO_WEB_WORKERS="2",
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    process.url = f"http://127.0.0.1:{port}"
    process.log_path = tmp_path / "serve.log"
    yield process
    if process.poll() is None:
        process.kill()
    log.close()


def children_of(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(line) for line in out.split()]


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_serve_runs_the_api_and_a_worker_and_stops_everything_on_ctrl_c(served):
    def healthy() -> bool:
        try:
            return requests.get(f"{served.url}/health", timeout=2).text == "OK"
        except requests.RequestException:
            # Not up yet: refused, or the socket is bound but no web worker has booted to answer.
            return False

    wait_for(healthy, 60, f"/health ({served.log_path.read_text()[-2000:]})")
    # The banner comes once the worker is started too, which can be just after the first answer.
    wait_for(lambda: f"Tracking URI:  {served.url}" in served.log_path.read_text(), 30, "the banner")

    subprocess.run([sys.executable, "-c", SEED_SNIPPET.format(uri=served.url)], check=True, timeout=120)
    experiment = requests.get(
        f"{served.url}/api/2.0/mlflow/experiments/get-by-name",
        params={"experiment_name": "experiment_with_mlflow"},
        timeout=10,
    ).json()["experiment"]
    runs = requests.post(
        f"{served.url}/api/2.0/mlflow/runs/search",
        json={"experiment_ids": [experiment["experiment_id"]]},
        timeout=10,
    ).json()["runs"]
    assert runs[0]["data"]["metrics"][0]["value"] == 0.03

    wait_for(
        lambda: "last seen" in requests.get(served.url, timeout=5).text, 60, "the worker on the home page"
    )

    children = children_of(served.pid)
    assert len(children) == 2
    served.send_signal(signal.SIGINT)
    assert served.wait(timeout=30) == 0
    wait_for(lambda: not any(is_alive(pid) for pid in children), 15, "the server and worker to exit")
