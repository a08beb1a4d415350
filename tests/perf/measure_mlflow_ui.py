"""The same pages in MLflow's own UI, on the same data as `measure_studio`, for comparison.

    .venv/bin/python -m tests.perf.measure_mlflow_ui [--runs 10000] [--points 1000000]

Fills a SQLite store through MLflow's own SqlAlchemyStore (in-process, the fastest way in),
serves it with `mlflow server`, then in Chromium measures the experiment's runs page (requests,
bytes on the wire, time until the runs table shows) and the run page's metric chart of the
1,000,000-point metric (time until plotly has drawn a trace). Needs the full `mlflow` package
(a test dependency).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.perf.measure_studio import first_load, wait_until_up

T0 = 1_764_500_000_000


def populate(uri: str, runs: int, points: int) -> dict:
    from mlflow.entities import Metric, Param
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(uri, tempfile.mkdtemp(prefix="mlflow-artifacts-"))
    experiment = store.create_experiment("sweep-10k")
    for index in range(runs):
        run = store.create_run(experiment, "ada", T0, [], f"trial-{index:05d}")
        store.log_batch(
            run.info.run_id,
            metrics=[
                Metric("loss", 1 / (1 + index % 97), T0, 0),
                Metric("accuracy", 0.5 + (index % 50) / 100, T0, 0),
                Metric("auc", 0.6 + (index % 40) / 100, T0, 0),
            ],
            params=[
                Param("lr", str(0.001 * (1 + index % 10))),
                Param("depth", str(index % 12)),
                Param("optimizer", "adam"),
            ],
            tags=[],
        )
    long_history = store.create_experiment("long-history")
    run = store.create_run(long_history, "ada", T0, [], "one-million")
    for start in range(0, points, 1000):
        store.log_batch(
            run.info.run_id,
            metrics=[
                Metric("loss", 2.0 / (1 + i / 5000) + (5.0 if i == points // 3 else 0.0), T0 + i * 10, i)
                for i in range(start, min(start + 1000, points))
            ],
            params=[],
            tags=[],
        )
    return {"experiment": experiment, "long_experiment": long_history, "run": run.info.run_id}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=5077)
    parser.add_argument("--data", help="a folder filled by an earlier run, to measure again")
    args = parser.parse_args()

    data = Path(args.data or tempfile.mkdtemp(prefix="mlflow-measure-"))
    uri = f"sqlite:///{data / 'mlflow.db'}"
    filled = data / "measure-ids.json"
    if filled.exists():
        ids = json.loads(filled.read_text())
    else:
        started = time.perf_counter()
        ids = populate(uri, args.runs, args.points)
        filled.write_text(json.dumps(ids))
        print(f"populated in {time.perf_counter() - started:.0f} s", flush=True)
    print(f"data: {data}", flush=True)

    mlflow = Path(sys.executable).with_name("mlflow")
    server = subprocess.Popen(
        [str(mlflow), "server", "--backend-store-uri", uri, "--port", str(args.port), "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        wait_until_up(base)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            runs_url = f"{base}/#/experiments/{ids['experiment']}/runs"
            size, requests_made, load_ms = first_load(page, runs_url)
            started = time.perf_counter()
            page.get_by_text(re.compile(r"^trial-\d{5}$")).first.wait_for(timeout=120_000)
            print(
                f"MLflow UI runs page, {args.runs:,} runs: {size / 1024:.0f} KB on the wire in {requests_made} "
                f"requests, load {load_ms:.0f} ms, first run row {load_ms + (time.perf_counter() - started) * 1000:.0f} ms"
            )
            # The run page's "Model metrics" tab: where a user opens a run's charts.
            metric_url = f"{base}/#/experiments/{ids['long_experiment']}/runs/{ids['run']}/model-metrics"
            timings = []
            for _ in range(2):
                started = time.perf_counter()
                page.goto(metric_url)
                try:
                    page.wait_for_function(
                        "() => document.querySelector('.js-plotly-plot .scatterlayer .trace')",
                        timeout=120_000,
                    )
                    timings.append(f"{(time.perf_counter() - started) * 1000:.0f} ms")
                except Exception as error:  # report it; the other figures still count
                    timings.append(f"not drawn ({type(error).__name__})")
            print(
                f"MLflow UI metric page, {args.points:,}-point metric, to drawn chart: {', '.join(timings)}"
            )
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
