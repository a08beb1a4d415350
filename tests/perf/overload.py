"""Overload and crashes, measured: many MLflow clients writing at once while a web worker is
killed, then the whole server, then read back.

    python -m tests.perf.overload                       # SQLite, 64 writers, 60 s
    python -m tests.perf.overload --db postgres         # PostgreSQL (DATABASE_URL, or the local one)
    python -m tests.perf.overload --writers 16 --seconds 10

It starts `manage.py serve` on a data folder of its own, and runs `writers` threads, each with the
real `MlflowClient` (its own retries on 429/5xx and lost connections, as a training script has),
logging batches of `--batch` points (half the writers 50, half 500) to a run of its own until the
time is up. A third of the way in, one gunicorn worker is killed with SIGKILL; two thirds in,
every process of the server is, and the server is started again on the same data. At the end
every run's history is read back: each acknowledged point must be there, once.

Printed: acknowledged points per second, p50/p99 latency of a batch, the HTTP statuses the server
answered (from its access log), points lost, points stored twice, and how long the restarted
server took to answer again.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000_000


@dataclass
class Writer:
    number: int
    batch: int
    run_id: str = ""
    acknowledged: set[int] = field(default_factory=set)  # first steps of the batches acknowledged
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


@dataclass
class Server:
    data_dir: Path
    port: int
    environment: dict[str, str]
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Starts `manage.py serve`; the seconds until it answered /health."""
        started = time.monotonic()
        log = (self.data_dir / "serve.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve"],
            cwd=ROOT,
            env={**os.environ, **self.environment, "STUDIO_PORT": str(self.port)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        while time.monotonic() - started < 120:
            try:
                if requests.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return time.monotonic() - started
            except requests.RequestException:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"the server did not start: {(self.data_dir / 'serve.log').read_text()[-3000:]}")

    def processes(self) -> list[int]:
        """The serve process and every process under it."""
        found, frontier = [], [self.process.pid]
        while frontier:
            pid = frontier.pop()
            found.append(pid)
            children = subprocess.run(
                ["pgrep", "-P", str(pid)], capture_output=True, text=True
            ).stdout.split()
            frontier += [int(child) for child in children]
        return found

    def web_workers(self) -> list[int]:
        return [pid for pid in self.processes() if b"gunicorn" in _cmdline(pid) and _is_worker(pid)]

    def kill_everything(self) -> None:
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill_everything()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def _is_worker(pid: int) -> bool:
    """A gunicorn worker's parent is the gunicorn master, not `manage.py serve`."""
    try:
        parent = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    except (FileNotFoundError, IndexError, ValueError):
        return False
    return b"gunicorn" in _cmdline(parent)


def _write(writer: Writer, url: str, deadline: float) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(url)
    step = 0
    while time.monotonic() < deadline:
        metrics = [Metric("loss", 1.0 / (step + i + 1), T0 + step + i, step + i) for i in range(writer.batch)]
        began = time.monotonic()
        try:
            client.log_batch(writer.run_id, metrics=metrics)
        except Exception as error:  # the client gave up (after its retries): not acknowledged
            writer.failures.append(f"{type(error).__name__}: {str(error)[:200]}")
        else:
            writer.acknowledged.add(step)
            writer.latencies.append(time.monotonic() - began)
        step += writer.batch


def _statuses(log: Path) -> Counter:
    counts: Counter = Counter()
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            found = re.search(r'" (\d{3}) ', line)
            if found:
                counts[int(found.group(1))] += 1
    return counts


def run(*, data_dir: Path, database_url: str | None, writers: int, seconds: float, port: int) -> dict:
    data_dir.mkdir(parents=True, exist_ok=True)
    environment = {
        "STUDIO_DATA_DIR": str(data_dir),
        "STUDIO_ACCESS_LOG": str(data_dir / "access.log"),
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "120",
    }
    if database_url:
        environment["DATABASE_URL"] = database_url
    env = {**os.environ, **environment}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    server = Server(data_dir, port, environment)
    server.start()
    from mlflow import MlflowClient

    client = MlflowClient(server.url)
    experiment_id = client.create_experiment(f"overload-{time.time_ns()}")
    crew = [Writer(number, 50 if number % 2 else 500) for number in range(writers)]
    for writer in crew:
        writer.run_id = client.create_run(experiment_id).info.run_id

    began = time.monotonic()
    deadline = began + seconds
    threads = [threading.Thread(target=_write, args=(w, server.url, deadline)) for w in crew]
    for thread in threads:
        thread.start()
    events = {}
    time.sleep(seconds / 3)
    victims = server.web_workers()
    if victims:
        os.kill(victims[0], signal.SIGKILL)
        events["web worker killed"] = round(time.monotonic() - began, 1)
    time.sleep(max(0.0, began + 2 * seconds / 3 - time.monotonic()))
    server.kill_everything()
    events["server killed"] = round(time.monotonic() - began, 1)
    restart_seconds = server.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began

    lost = twice = 0
    for writer in crew:
        history = client.get_metric_history(writer.run_id, "loss")
        steps = Counter(point.step for point in history)
        twice += sum(count - 1 for count in steps.values() if count > 1)
        for first in writer.acknowledged:
            lost += sum(1 for step in range(first, first + writer.batch) if step not in steps)
    server.stop()
    latencies = sorted(latency for writer in crew for latency in writer.latencies)
    acknowledged = sum(len(writer.acknowledged) * writer.batch for writer in crew)
    return {
        "writers": writers,
        "seconds": round(elapsed, 1),
        "acknowledged_points": acknowledged,
        "points_per_second": round(acknowledged / elapsed),
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1) if latencies else None,
        "statuses": dict(sorted(_statuses(data_dir / "access.log").items())),
        "lost": lost,
        "stored_twice": twice,
        "given_up": sum(len(writer.failures) for writer in crew),
        "failures": sorted({failure for writer in crew for failure in writer.failures})[:5],
        "restart_seconds": round(restart_seconds, 2),
        "events": events,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--writers", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--data-dir", default="/tmp/studio-overload")
    arguments = parser.parse_args()
    database_url = None
    if arguments.db == "postgres":
        database_url = (
            os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/studio_overload"
        )
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", "DROP DATABASE IF EXISTS studio_overload"],
            check=False,
            capture_output=True,
        )
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", "CREATE DATABASE studio_overload"],
            check=False,
            capture_output=True,
        )
    folder = Path(arguments.data_dir) / f"{arguments.db}-{time.time_ns()}"
    report = run(
        data_dir=folder,
        database_url=database_url,
        writers=arguments.writers,
        seconds=arguments.seconds,
        port=arguments.port,
    )
    for key, value in report.items():
        print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
