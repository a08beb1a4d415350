"""Times the filled workspaces over HTTP, against the server as it ships, and prints a table.

    .venv/bin/python -m tests.perf.capacity measure \\
        --at 10000=postgresql://postgres@127.0.0.1:5432/studio_capacity_10k \\
        --at 100000=postgresql://postgres@127.0.0.1:5432/studio_capacity

For each scale (a database filled by `fill --scale N`, workspace `capacity-N`):

1. `manage.py serve --only web` on that database, with an empty data folder (so an empty cache);
2. each figure is a GET or POST timed by a client on the same machine: "cold" is the first
   request after the server's cache was emptied (the kept answers of `tracking.run_changes` and
   the chart cache: what the first visit after a write costs), "warm" the median of the next
   REPEATS. PostgreSQL's own buffers are not emptied (the server is shared): cold here means
   the studio's cache, not the disk's;
3. an import of 1,000 runs (`tests.integration.mlruns_generator`, 500 points each, the fill's
   average) with `manage.py import_mlruns --in-process` into a new workspace;
4. the metric tables' size on disk (`pg_total_relation_size`, indexes included) per million
   points.

Loopback HTTP adds about a millisecond to the server's own time, so these times bound it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[3]
REPEATS = 7
IMPORT_RUNS = 1000
IMPORT_POINTS = 500 * IMPORT_RUNS
BIG = "1"  # the experiment number of the fill's big experiment
LONG_KEY = "metric_000"  # the first metric of the big experiment: the giant run's long history
FILTER = "params.param_0000 = 'adam' and metrics.metric_001 < 1.0"


@dataclass
class Figure:
    name: str
    cold_ms: float | None
    warm_ms: float | None
    note: str = ""


@dataclass
class Results:
    scale: int
    figures: list[Figure] = field(default_factory=list)
    facts: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, cold: float | None, warm: float | None, note: str = "") -> None:
        self.figures.append(Figure(name, cold, warm, note))
        shown = " / ".join(f"{t:.0f} ms" if t is not None else "-" for t in (cold, warm))
        print(f"  {name}: {shown} {note}", flush=True)


@contextmanager
def web_server(database_url: str, port: int, data: Path) -> Iterator[str]:
    """`manage.py serve --only web` on the database, once it answers; its base URL."""
    env = {**os.environ, "DATABASE_URL": database_url, "STUDIO_DATA_DIR": str(data)}
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--only", "web", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if requests.get(f"{base}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def timed_ms(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


def cold_and_warm(call: Callable[[], object], empty_cache: Callable[[], None] | None) -> tuple[float, float]:
    if empty_cache:
        empty_cache()
    cold = timed_ms(call)
    return cold, statistics.median(timed_ms(call) for _ in range(REPEATS))


def measure_scale(scale: int, database_url: str, port: int) -> Results:
    results = Results(scale)
    workspace = f"capacity-{scale}"
    with psycopg.connect(database_url) as db:
        giant_uuid, giant_points = db.execute(
            "SELECT r.uuid, s.count FROM tracking_run r JOIN tracking_metricsummary s ON s.run_id = r.id "
            "JOIN tracking_experiment e ON e.id = r.experiment_id JOIN tracking_workspace w ON w.id = e.workspace_id "
            "WHERE w.name = %s AND s.key = %s ORDER BY s.count DESC LIMIT 1",
            [workspace, LONG_KEY],
        ).fetchone()
        experiments = db.execute(
            "SELECT count(*) FROM tracking_experiment e JOIN tracking_workspace w ON w.id = e.workspace_id "
            "WHERE w.name = %s",
            [workspace],
        ).fetchone()[0]
        results.facts.update(_sizes(db))
    results.facts["experiments"] = experiments
    # The machine may be shared: the load says how much the figures were competing for it.
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"scale {scale:,}: {database_url}, workspace {workspace}, load average {load}", flush=True)

    data = Path(tempfile.mkdtemp(prefix="studio-capacity-"))
    cache = data / "cache"

    def empty_cache() -> None:
        shutil.rmtree(cache, ignore_errors=True)

    session = requests.Session()

    def get(url: str) -> Callable[[], requests.Response]:
        def call() -> requests.Response:
            response = session.get(url, timeout=600)
            response.raise_for_status()
            return response

        return call

    def post(url: str, body: dict) -> Callable[[], requests.Response]:
        def call() -> requests.Response:
            response = session.post(url, json=body, timeout=600)
            response.raise_for_status()
            return response

        return call

    with web_server(database_url, port, data) as base:
        page = f"{base}/ws/{workspace}/experiments/{BIG}/"
        results.add("runs table, first page", *cold_and_warm(get(page), empty_cache))
        results.add(
            "runs table sorted by a metric", *cold_and_warm(get(f"{page}?sort=-metrics.metric_000"), None)
        )
        results.add(
            "runs table sorted by a metric's min",
            *cold_and_warm(get(f"{page}?sort=min(metrics.metric_001)"), None),
        )
        filtered = f"{page}?filter={requests.utils.quote(FILTER)}"
        results.add("runs table filtered, page 1", *cold_and_warm(get(filtered), None))
        results.add("runs table filtered, page 2", *cold_and_warm(get(f"{filtered}&page=2"), None))
        results.add("runs table filtered, page 100", *cold_and_warm(get(f"{filtered}&page=100"), None))

        search = f"{base}/ws/{workspace}/api/2.0/mlflow/runs/search"
        first_page = {"experiment_ids": [BIG], "max_results": 100}
        results.add("runs/search, first 100", *cold_and_warm(post(search, first_page), None))
        results.add(
            "runs/search, first 1,000",
            *cold_and_warm(post(search, {**first_page, "max_results": 1000}), None),
        )
        by_metric = {**first_page, "order_by": ["metrics.metric_000 DESC"]}
        results.add("runs/search sorted by a metric", *cold_and_warm(post(search, by_metric), None))
        filtered_search = {**first_page, "filter": FILTER}
        results.add("runs/search filtered, page 1", *cold_and_warm(post(search, filtered_search), None))
        results.add("runs/search filtered, pages 1-10", *_paging(session, search, filtered_search, 10))

        run = f"{base}/ws/{workspace}/runs/{giant_uuid}/metrics/"
        results.add(f"Metrics tab page, {giant_points:,}-point run", *cold_and_warm(get(run), empty_cache))
        chart = f"{run}data?key={LONG_KEY}"
        results.add(
            f"chart data, {giant_points:,} points, whole history", *cold_and_warm(get(chart), empty_cache)
        )
        results.add(
            "chart data, zoomed to 1 % of the history",
            *cold_and_warm(
                get(f"{chart}&from={giant_points // 2}&to={giant_points // 2 + giant_points // 100}"), None
            ),
        )

        listing = f"{base}/ws/{workspace}/"
        note = f"({experiments:,} experiments)"
        results.add("experiments list, first page", *cold_and_warm(get(listing), empty_cache), note)
        results.add("experiments list, last page", *cold_and_warm(get(f"{listing}?page=1000"), None), note)
        results.add(
            "experiments list, name search", *cold_and_warm(get(f"{listing}?q=capacity-09"), None), note
        )

    results.facts["import_seconds"] = _import(database_url, data, scale)
    print(f"  import of {IMPORT_RUNS:,} runs: {results.facts['import_seconds']:.1f} s", flush=True)
    shutil.rmtree(data, ignore_errors=True)
    return results


def _paging(session: requests.Session, url: str, body: dict, pages: int) -> tuple[None, float]:
    """Follows page tokens for `pages` pages; the total time of all of them."""
    began = time.perf_counter()
    token = None
    for _ in range(pages):
        answer = session.post(url, json={**body, **({"page_token": token} if token else {})}, timeout=600)
        answer.raise_for_status()
        token = answer.json().get("next_page_token")
        if not token:
            break
    return None, (time.perf_counter() - began) * 1000


def _import(database_url: str, data: Path, scale: int) -> float:
    """Seconds `import_mlruns --in-process` takes for IMPORT_RUNS runs into a new workspace."""
    from tests.integration.mlruns_generator import generate

    folder = data / "import"
    # A seed of its own: run ids are global, and an earlier measurement imported its own.
    generate(folder / "mlruns", runs=IMPORT_RUNS, points=IMPORT_POINTS, seed=time.time_ns())
    env = {**os.environ, "DATABASE_URL": database_url, "STUDIO_DATA_DIR": str(data)}
    began = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "import_mlruns",
            str(folder / "mlruns"),
            "--in-process",
            "--create-workspace",
            "--workspace",
            f"import-{scale}-{int(time.time())}",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - began


def _sizes(db: psycopg.Connection) -> dict[str, float]:
    points = db.execute("SELECT count(*) FROM tracking_metric").fetchone()[0]
    summaries = db.execute("SELECT count(*) FROM tracking_metricsummary").fetchone()[0]
    runs = db.execute("SELECT count(*) FROM tracking_run").fetchone()[0]
    metric_bytes, summary_bytes, database_bytes = db.execute(
        "SELECT pg_total_relation_size('tracking_metric'), pg_total_relation_size('tracking_metricsummary'), "
        "pg_database_size(current_database())"
    ).fetchone()
    return {
        "points": points,
        "summaries": summaries,
        "runs": runs,
        "metric_bytes": metric_bytes,
        "summary_bytes": summary_bytes,
        "database_bytes": database_bytes,
    }


def print_table(all_results: list[Results]) -> None:
    scales = [r.scale for r in all_results]
    header = "| figure | " + " | ".join(f"{s:,} runs: cold / warm" for s in scales) + " | growth (warm) |"
    print()
    print(header)
    print("|" + "---|" * (len(scales) + 2))
    for index, first in enumerate(all_results[0].figures):
        cells = []
        for results in all_results:
            figure = results.figures[index]
            cold = f"{figure.cold_ms:,.0f}" if figure.cold_ms is not None else "-"
            cells.append(f"{cold} / {figure.warm_ms:,.0f} ms")
        low, high = all_results[0].figures[index].warm_ms, all_results[-1].figures[index].warm_ms
        growth = f"{high / low:.1f}x" if len(all_results) > 1 and low else ""
        print(f"| {first.name} | " + " | ".join(cells) + f" | {growth} |")
    facts = [
        ("import of 1,000 runs (500 points each), s", "import_seconds", "{:,.1f}"),
        ("runs in the database", "runs", "{:,.0f}"),
        ("metric points", "points", "{:,.0f}"),
        ("latest-metric rows", "summaries", "{:,.0f}"),
        ("metric points table + indexes, MB", "metric_bytes", "{:,.0f}"),
        ("latest-metric table + indexes, MB", "summary_bytes", "{:,.0f}"),
        ("both, MB per million points", "per_million", "{:,.1f}"),
        ("whole database, MB", "database_bytes", "{:,.0f}"),
    ]
    for results in all_results:
        f = results.facts
        f["per_million"] = (f["metric_bytes"] + f["summary_bytes"]) / (f["points"] / 1e6)
        for key in ("metric_bytes", "summary_bytes", "database_bytes", "per_million"):
            f[key] /= 1e6  # bytes -> MB
    for label, key, form in facts:
        values = [results.facts[key] for results in all_results]
        growth = f"{values[-1] / values[0]:.1f}x" if len(values) > 1 and values[0] else ""
        print(f"| {label} | " + " | ".join(form.format(v) for v in values) + f" | {growth} |")


def measure(targets: list[tuple[int, str]], port: int, out: Path | None) -> None:
    all_results = [measure_scale(scale, url, port) for scale, url in targets]
    print_table(all_results)
    if out:
        out.write_text(
            json.dumps(
                [
                    {"scale": r.scale, "figures": [vars(f) for f in r.figures], "facts": r.facts}
                    for r in all_results
                ],
                indent=1,
            )
        )
