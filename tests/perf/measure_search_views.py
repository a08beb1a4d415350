"""Measures issue 16's speed targets for the search language and the runs table's views.

    .venv/bin/python -m tests.perf.measure_search_views [--runs 10000] [--columns 50]

Not part of the test suite. It fills a fresh database (SQLite in a temporary folder, or
DATABASE_URL's) with one experiment of N runs, each with `--columns` metrics and three params,
starts the web server (`manage.py serve --only web`) and reports server times (median of 7 GETs):

- the runs table with all the metric columns, and the same grouped by a param (target < 150 ms),
  the first visit (computed) and the next ones (kept until a run changes);
- `runs/search` over the first 5,000 runs through the API: an OR of two params' values against the
  same search written with IN, and an OR of a metric and a param against each arm alone (target:
  an OR within 1.5x of the search without it).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_764_500_000_000


def populate(runs: int, columns: int) -> tuple[str, str]:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from tracking.models import Workspace
    from tracking.services.experiments import create_experiment
    from tracking.services.metric_points import MetricPoint
    from tracking.services.runs import Batch, create_run, log_batch

    workspace = Workspace.objects.get(name="default")
    started = time.perf_counter()
    big = create_experiment(workspace=workspace, name=f"wide-{runs}")
    small = create_experiment(workspace=workspace, name="search-5000")
    for index in range(runs):
        for experiment in (big, small) if index < 5000 else (big,):
            run = create_run(experiment=experiment, run_name=f"trial-{index:05d}", user_id="ada")
            log_batch(
                run=run,
                batch=Batch(
                    params=[
                        ("lr", str(0.001 * (1 + index % 10))),
                        ("optimizer", ("adam", "sgd", "rmsprop")[index % 3]),
                        ("depth", str(index % 12)),
                    ],
                    metrics=[
                        MetricPoint(f"m{k:02d}", ((index * 31 + k * 17) % 1000) / 1000, T0, 0)
                        for k in range(columns if experiment is big else 3)
                    ],
                ),
            )
    print(f"populated in {time.perf_counter() - started:.0f} s", flush=True)
    return big.experiment_id, small.experiment_id


@contextmanager
def web_server(port: int) -> Iterator[str]:
    """`manage.py serve --only web` on the port, once it answers; its base URL."""
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--only", "web", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(f"{base}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def median_ms(call, repeats: int = 7) -> float:
    return first_and_median_ms(call, repeats)[1]


def first_and_median_ms(call, repeats: int = 7) -> tuple[float, float]:
    """The first call (what the runs' keys and groups cost when computed) and the median of the
    next ones (kept until a run changes: tracking.run_changes)."""
    began = time.perf_counter()
    call()
    first = (time.perf_counter() - began) * 1000
    timings = []
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        timings.append((time.perf_counter() - began) * 1000)
    return first, statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--columns", type=int, default=50)
    parser.add_argument("--port", type=int, default=8124)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="studio-views-"))
    os.environ.setdefault("STUDIO_DATA_DIR", str(data))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    sys.path.insert(0, str(ROOT))
    wide, searched = populate(args.runs, args.columns)

    with web_server(args.port) as base:
        session = requests.Session()
        columns = "&".join(f"col=metrics.m{k:02d}" for k in range(args.columns))
        page = f"{base}/ws/default/experiments/{wide}/?{columns}"

        def get(url):
            return lambda: session.get(url, timeout=120).raise_for_status()

        print(f"runs table, {args.runs:,} runs, {args.columns} metric columns: {median_ms(get(page)):.0f} ms")
        first, grouped = first_and_median_ms(get(f"{page}&group=params.optimizer"))
        print(
            f"  the same grouped by a param (3 groups): {grouped:.0f} ms (target < 150 ms); computed: {first:.0f} ms"
        )
        first, grouped_lr = first_and_median_ms(get(f"{page}&group=params.lr"))
        print(f"  grouped by a param with 10 values: {grouped_lr:.0f} ms; computed: {first:.0f} ms")
        default = f"{base}/ws/default/experiments/{wide}/"
        print(
            f"  default columns (8 metrics), grouped by a param: {median_ms(get(f'{default}?group=params.optimizer')):.0f} ms"
        )

        def search(filter_string: str):
            body = {"experiment_ids": [searched], "filter": filter_string, "max_results": 100}
            url = f"{base}/api/2.0/mlflow/runs/search"
            return lambda: session.post(url, json=body, timeout=120).raise_for_status()

        cases = [
            ("params.optimizer IN ('adam', 'sgd')", "params.optimizer = 'adam' OR params.optimizer = 'sgd'"),
            ("metrics.m00 > 0.9", "metrics.m00 > 0.9 OR params.lr = '0.002'"),
            ("params.lr = '0.002'", "metrics.m00 > 0.9 OR params.lr = '0.002'"),
        ]
        print("runs/search over 5,000 runs, first page of 100 (plain HTTP):")
        for without, with_or in cases:
            plain, ored = median_ms(search(without)), median_ms(search(with_or))
            print(f"  {with_or!r}: {ored:.1f} ms against {without!r}: {plain:.1f} ms ({ored / plain:.2f}x)")


if __name__ == "__main__":
    main()
