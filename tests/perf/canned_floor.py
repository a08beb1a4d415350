"""The client's floor for the read workloads: MLflow's client against a server that sends our
answers ready-made.

    .venv/bin/python -m tests.perf.canned_floor --tracking-uri http://127.0.0.1:8000 [--runs 5000]

Not part of the test suite. `../shared/bench/floor.py` gives the floor for writes (a server that
answers `{}`); a read's floor is the time the client takes to parse the answer, which a server that
answers nothing cannot show. This script fills the server at `--tracking-uri` with the benchmark's
W4 experiment (N runs, 3 params, 3 metrics, 2 tags each) and its 1,000 experiments, W5's run (a
100,000-step metric) and a W7 registered model with a version and an alias, records every answer
the client receives for W4's first page and experiment search, W5's whole history, W7's version
creation and alias look-up through a recording proxy, and then times the same client calls, alternating, against the real server and
against a replaying server that sends the recorded bytes without computing anything (gunicorn,
same worker class as `manage.py serve`). The ratio of the two medians is what the server costs
above the client's own parsing: issue 14's target is 1.3 or less. For W7's version creation, whose
answer is small, it is the floor of the calls the client makes (the replay hands back the version
it recorded, every time): what caps versions per second whatever the server.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pickle
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

W4_FILTER = "metrics.acc > 0.5 and params.lr = '0.01'"
W4_ORDER = ["metrics.acc DESC"]
LRS = ("0.01", "0.001", "0.1")

# --- The replaying server (a WSGI app; this module is also its gunicorn entry point) -----------

_ANSWERS_FILE = os.environ.get("CANNED_ANSWERS_FILE", "")
_UPSTREAM = os.environ.get("CANNED_UPSTREAM", "")
_answers: dict[tuple[str, str, str, bytes], tuple[str, bytes]] = {}
if _ANSWERS_FILE and not _UPSTREAM and os.path.exists(_ANSWERS_FILE):
    with open(_ANSWERS_FILE, "rb") as stored:
        _answers = pickle.load(stored)


def _request_key(environ) -> tuple[str, str, str, bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    return environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""), body


def app(environ, start_response):
    """Records (with CANNED_UPSTREAM) or replays (without) answers keyed by the whole request."""
    key = _request_key(environ)
    if key[1] == "/health":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"OK"]
    if _UPSTREAM:
        status, content_type, body = _forward(key)
        if status == 200:
            _answers[key] = (content_type, body)
            with open(_ANSWERS_FILE, "wb") as stored:  # one worker: the file is always whole
                pickle.dump(_answers, stored)
        start_response(f"{status} X", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]
    if key not in _answers:
        body = json.dumps({"error_code": "NOT_RECORDED", "message": f"{key[0]} {key[1]}?{key[2]}"}).encode()
        start_response(
            "404 Not Found", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]
    content_type, body = _answers[key]
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def _forward(key: tuple[str, str, str, bytes]) -> tuple[int, str, bytes]:
    method, path, query, body = key
    upstream = urllib.parse.urlsplit(_UPSTREAM)
    connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=300)
    try:
        connection.request(
            method,
            path + (f"?{query}" if query else ""),
            body=body or None,
            headers={"Content-Type": "application/json"} if body else {},
        )
        answer = connection.getresponse()
        return answer.status, answer.getheader("Content-Type", "application/json"), answer.read()
    finally:
        connection.close()


# --- The driver --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_canned_server(answers_file: Path, upstream: str | None) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = dict(os.environ, CANNED_ANSWERS_FILE=str(answers_file), CANNED_UPSTREAM=upstream or "")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "-k",
            "gthread",
            "-w",
            "1",
            "--threads",
            "4",
            "-b",
            f"127.0.0.1:{port}",
            "--chdir",
            str(Path(__file__).parent),
            "canned_floor:app",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{uri}/health", timeout=1)
            return process, uri
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the canned server did not start")


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def _fill(uri: str, runs: int, steps: int) -> dict[str, str]:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    client = MlflowClient(uri)
    suffix = time.time_ns()
    experiment = client.create_experiment(f"canned-floor-{suffix}")
    started = int(time.time() * 1000)

    def one(index: int) -> None:
        acc = ((index * 7919) % runs) / runs
        run = client.create_run(experiment, run_name=f"run-{index}", start_time=started + index)
        client.log_batch(
            run.info.run_id,
            metrics=[
                Metric(k, v, started, 0) for k, v in {"acc": acc, "loss": 1 - acc, "f1": acc / 2}.items()
            ],
            params=[
                Param("lr", LRS[index % 3]),
                Param("batch", str(2 ** (4 + index % 5))),
                Param("opt", ("adam", "sgd")[index % 2]),
            ],
            tags=[RunTag("team", f"t{index % 4}"), RunTag("idx", str(index))],
        )

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(runs)))
    long_run = client.create_run(experiment, run_name="long").info.run_id
    for start in range(0, steps, 1000):
        client.log_batch(
            long_run,
            metrics=[
                Metric("loss", s * 0.125 - 3.0, started + s, s)
                for s in range(start, min(steps, start + 1000))
            ],
        )
    marker = f"foo{suffix}"
    with ThreadPoolExecutor(4) as pool:
        list(
            pool.map(
                lambda i: client.create_experiment(
                    f"{marker}-e{i:04d}" if i % 10 == 0 else f"e{suffix}-{i:04d}"
                ),
                range(1000),
            )
        )
    model_run = client.create_run(experiment, run_name="model")
    client.log_text(model_run.info.run_id, "artifact_path: model\nflavors: {}\n", "model/MLmodel")
    model = f"canned-floor-model-{suffix}"
    client.create_registered_model(model)
    source = f"{model_run.info.artifact_uri}/model"
    client.create_model_version(model, source=source, run_id=model_run.info.run_id)
    client.set_registered_model_alias(model, "champion", "1")
    return {
        "experiment": experiment,
        "long_run": long_run,
        "marker": marker,
        "model": model,
        "model_run": model_run.info.run_id,
        "source": source,
    }


def _timed(call, client, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call(client)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--w4-repeats", type=int, default=20)
    parser.add_argument("--w5-repeats", type=int, default=3)
    args = parser.parse_args()

    from mlflow import MlflowClient

    print(f"filling {args.tracking_uri}: {args.runs} runs, a {args.steps}-step metric ...", flush=True)
    filled = _fill(args.tracking_uri, args.runs, args.steps)
    workloads = {
        "W4 first page (search_runs, filter + order, 100 runs)": lambda client: client.search_runs(
            [filled["experiment"]], W4_FILTER, max_results=100, order_by=W4_ORDER
        ),
        "W4 search_experiments (name LIKE, 100 of 1,000)": lambda client: client.search_experiments(
            filter_string=f"name LIKE '%{filled['marker']}%'", max_results=1000
        ),
        "W5 get_metric_history (100,000 points, all pages)": lambda client: client.get_metric_history(
            filled["long_run"], "loss"
        ),
        "W7 create_model_version (from a run's artifact path)": lambda client: [
            client.create_model_version(filled["model"], source=filled["source"], run_id=filled["model_run"])
        ],
        "W7 get_model_version_by_alias": lambda client: [
            client.get_model_version_by_alias(filled["model"], "champion")
        ],
    }
    repeats = {name: args.w5_repeats if name.startswith("W5") else args.w4_repeats for name in workloads}

    with tempfile.TemporaryDirectory() as folder:
        answers_file = Path(folder) / "answers.pickle"
        recorder, recorder_uri = _start_canned_server(answers_file, upstream=args.tracking_uri)
        try:
            expected = {name: call(MlflowClient(recorder_uri)) for name, call in workloads.items()}
        finally:
            _stop(recorder)
        replayer, canned_uri = _start_canned_server(answers_file, upstream=None)
        try:
            real, canned = MlflowClient(args.tracking_uri), MlflowClient(canned_uri)
            for name, call in workloads.items():
                replayed = call(canned)
                assert len(replayed) == len(expected[name]), f"{name}: the replay differs"
            samples = {name: {"server": [], "canned": []} for name in workloads}
            for _ in range(args.rounds):
                for name, call in workloads.items():
                    samples[name]["server"] += _timed(call, real, repeats[name])
                    samples[name]["canned"] += _timed(call, canned, repeats[name])
        finally:
            _stop(replayer)

    print(f"{'workload':58} {'server p50':>11} {'canned p50':>11} {'ratio':>6}")
    for name, figures in samples.items():
        server, canned_ms = statistics.median(figures["server"]), statistics.median(figures["canned"])
        print(f"{name:58} {server:9.1f} ms {canned_ms:9.1f} ms {server / canned_ms:6.2f}")


if __name__ == "__main__":
    main()
