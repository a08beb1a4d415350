"""Measures the studio's pages against the speed targets of its issue, on a populated database.

    .venv/bin/python -m tests.perf.measure_studio [--runs 10000] [--points 1000000] [--experiments 1000]

Not part of the test suite (it takes a minute or two to fill the database). It fills a fresh
database (SQLite in a temporary folder, or DATABASE_URL's), starts the real web server
and a worker (`manage.py serve`), and reports:

- the experiment page with N runs: server time (median of 5 GETs) and, in Chromium, the bytes on
  the wire of a first load (HTML, CSS, JS, compressed as served) and the time to `load`;
- the run's Metrics tab with a 1,000,000-point metric: time from navigation to every chart drawn,
  for an ended run whose chart the worker drew ahead, and with the chart cache emptied (the
  server then reads every point, as for a running run's first view); each with an empty browser
  cache and with plotly.js cached;
- the experiments list with 1,000 experiments and a name search: server time (median of 5).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_764_500_000_000


def populate(runs: int, points: int, experiments: int) -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from tracking.models import Workspace
    from tracking.services.experiments import create_experiment
    from tracking.services.metric_points import MetricPoint
    from tracking.services.runs import Batch, create_run, log_batch, update_run

    workspace = Workspace.objects.get(name="default")
    started = time.perf_counter()
    big = create_experiment(workspace=workspace, name="sweep-10k")
    for index in range(runs):
        run = create_run(experiment=big, run_name=f"trial-{index:05d}", user_id="ada")
        log_batch(
            run=run,
            batch=Batch(
                params=[
                    ("lr", str(0.001 * (1 + index % 10))),
                    ("depth", str(index % 12)),
                    ("optimizer", "adam"),
                ],
                metrics=[
                    MetricPoint("loss", 1 / (1 + index % 97), T0, 0),
                    MetricPoint("accuracy", 0.5 + (index % 50) / 100, T0, 0),
                    MetricPoint("auc", 0.6 + (index % 40) / 100, T0, 0),
                ],
            ),
        )
    for index in range(experiments - 2):
        create_experiment(
            workspace=workspace, name=f"project-{index:04d}-{'churn' if index % 7 else 'vision'}"
        )
    long_history = create_experiment(workspace=workspace, name="long-history")
    run = create_run(experiment=long_history, run_name="one-million")
    for start in range(0, points, 1000):
        log_batch(
            run=run,
            batch=Batch(
                metrics=[
                    MetricPoint(
                        "loss", 2.0 / (1 + i / 5000) + (5.0 if i == points // 3 else 0.0), T0 + i * 10, i
                    )
                    for i in range(start, min(start + 1000, points))
                ]
            ),
        )
    # The run ends as a training script's would; the worker then draws its long chart ahead.
    update_run(run=run, status="FINISHED")
    print(f"populated in {time.perf_counter() - started:.0f} s", flush=True)
    return {"experiment": big.number, "run": run.uuid}


def wait_until_up(base: str, seconds: float = 90) -> None:
    import requests

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/health", timeout=1).raise_for_status()
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise SystemExit(f"{base} did not come up in {seconds:.0f} s")


def median_ms(url: str, repeats: int = 5) -> float:
    import requests

    session = requests.Session()
    session.get(url).raise_for_status()  # warm
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        session.get(url).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def first_load(page, url: str) -> tuple[int, int, float]:
    """(bytes on the wire, requests, ms to `load`) of a first load with an empty cache."""
    client = page.context.new_cdp_session(page)
    client.send("Network.enable")
    client.send("Network.clearBrowserCache")
    wire = {"bytes": 0, "requests": 0}

    def finished(event):
        wire["bytes"] += int(event.get("encodedDataLength", 0))
        wire["requests"] += 1

    client.on("Network.loadingFinished", finished)
    started = time.perf_counter()
    page.goto(url, wait_until="load")
    elapsed = (time.perf_counter() - started) * 1000
    page.wait_for_timeout(300)
    return wire["bytes"], wire["requests"], elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--experiments", type=int, default=1_000)
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--data", help="a data folder filled by an earlier run, to measure again")
    args = parser.parse_args()

    data = Path(args.data or tempfile.mkdtemp(prefix="studio-measure-"))
    os.environ.setdefault("STUDIO_DATA_DIR", str(data))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    sys.path.insert(0, str(ROOT))
    filled = data / "measure-ids.json"
    if filled.exists():
        ids = json.loads(filled.read_text())
    else:
        ids = populate(args.runs, args.points, args.experiments)
        filled.write_text(json.dumps(ids))
    print(f"data: {data}", flush=True)

    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, check=True
    )
    # The web server and a worker, as `make run` starts them: the worker draws the ended run's
    # long chart ahead of the first visit.
    log_path = data / "measure-serve.log"
    with open(log_path, "ab") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(args.port)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{args.port}"
    try:
        wait_until_up(base)
        if not args.data:
            wait_for_log(log_path, "warm_metric_charts", "succeeded")
        experiment_url = f"{base}/ws/default/experiments/{ids['experiment']}/"
        print(f"experiment page, {args.runs:,} runs: server {median_ms(experiment_url):.0f} ms (median of 5)")
        search_url = f"{base}/ws/default/?q=vision"
        print(
            f"experiments list, {args.experiments:,} experiments, name search: server {median_ms(search_url):.0f} ms"
        )

        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            size, requests_made, load_ms = first_load(page, experiment_url)
            print(
                f"experiment page first load: {size / 1024:.0f} KB on the wire in {requests_made} requests, load {load_ms:.0f} ms"
            )
            metrics_url = f"{base}/ws/default/runs/{ids['run']}/metrics/"
            size, requests_made, _ = first_load(page, metrics_url)
            print(f"metrics tab first load: {size / 1024:.0f} KB on the wire in {requests_made} requests")

            def navigations(fresh_browser: bool, fresh_server: bool) -> list[float]:
                timings = []
                for _ in range(3):
                    context = browser.new_context(viewport={"width": 1400, "height": 900})
                    tab = context.new_page()
                    if not fresh_browser:
                        chart_drawn(tab, metrics_url)  # plotly.js and the page in the browser's cache
                    if fresh_server:
                        empty_chart_cache(data)
                    timings.append(chart_drawn(tab, metrics_url))
                    context.close()
                return timings

            label = f"metrics tab, {args.points:,}-point metric, navigation to drawn chart"
            print(
                f"{label}, as drawn by the worker: {_ms(navigations(True, False))} first visit, "
                f"{_ms(navigations(False, False))} with plotly.js cached"
            )
            print(
                f"{label}, nothing drawn ahead (server reads every point): {_ms(navigations(True, True))} "
                f"first visit, {_ms(navigations(False, True))} with plotly.js cached"
            )
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def chart_drawn(page, url: str) -> float:
    """Milliseconds from navigation to every chart card drawn."""
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_function(
        "() => { const cards = document.querySelectorAll('.chart-card');"
        " return cards.length && Array.from(cards).every(c => c.querySelector('.scatterlayer .trace')); }",
        timeout=30_000,
    )
    return (time.perf_counter() - started) * 1000


def empty_chart_cache(data: Path) -> None:
    from django.conf import settings

    if settings.CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
        shutil.rmtree(data / "cache", ignore_errors=True)
    else:
        from django.core.cache import cache

        cache.clear()


def wait_for_log(path: Path, *words: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(all(word in line for word in words) for line in path.read_text(errors="replace").splitlines()):
            return
        time.sleep(0.2)
    raise SystemExit(f"no line with {words} in {path} after {seconds:.0f} s")


def _ms(timings: list[float]) -> str:
    return f"{statistics.median(timings):.0f} ms (median of {len(timings)}: {', '.join(f'{t:.0f}' for t in timings)})"


if __name__ == "__main__":
    main()
