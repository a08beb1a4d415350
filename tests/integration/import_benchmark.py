"""Times an import of a generated `mlruns/` into a fresh database, and MLflow's own migration.

Not part of the test suite (it takes minutes at full size). One database per run:

    .venv/bin/python -m tests.integration.import_benchmark --db sqlite
    .venv/bin/python -m tests.integration.import_benchmark --db postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m tests.integration.import_benchmark --db sqlite --mlflow   # + migrate-filestore

The store (1,000 runs, 2,000,000 points by default) is generated once under --work and reused.
With a PostgreSQL URL, a database `studio_import_bench` is created there (dropped first) for the run.
The import runs in this machine's `manage.py import_mlruns --in-process`: the code a worker runs,
without the hand-off through the broker.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.mlruns_generator import generate

ROOT = Path(__file__).resolve().parents[2]
BENCH_DATABASE = "studio_import_bench"


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(command: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    """Runs the command; (wall seconds, the process). Its CPU seconds go to `_run.cpu`."""
    started, cpu = time.perf_counter(), _cpu_of_children()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    _run.cpu = _cpu_of_children() - cpu
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed, done


def _fresh_postgres(url: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE}")
        connection.execute(f"CREATE DATABASE {BENCH_DATABASE}")
    return url.rsplit("/", 1)[0] + f"/{BENCH_DATABASE}"


def bench_studio(store: Path, work: Path, db: str) -> dict:
    data = work / "studio-data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    env = {**os.environ, "STUDIO_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1"}
    env.pop("DATABASE_URL", None)
    if db != "sqlite":
        env["DATABASE_URL"] = _fresh_postgres(db)
    python = sys.executable
    _run([python, "manage.py", "migrate", "-v", "0"], env)
    elapsed, done = _run([python, "manage.py", "import_mlruns", str(store), "--in-process"], env)
    cpu = _run.cpu
    counts = _run(
        [
            python,
            "manage.py",
            "shell",
            "-c",
            "import json; from tracking.models import Import, Metric, Run; row = Import.objects.get();"
            "print(json.dumps({'metrics': Metric.objects.count(), 'runs': Run.objects.count(),"
            " 'seconds': (row.finished_at - row.started_at).total_seconds()}))",
        ],
        env,
    )[1]
    stored = json.loads(counts.stdout.strip().splitlines()[-1])
    return {
        "database": "SQLite" if db == "sqlite" else "PostgreSQL",
        "command seconds": round(elapsed, 1),
        "import seconds": round(stored["seconds"], 1),
        "runs": stored["runs"],
        "points": stored["metrics"],
        "points/s": round(stored["metrics"] / stored["seconds"]),
        # The machine is shared: CPU seconds of the importing process say what it cost itself
        # (the database server's work is not in them).
        "command CPU seconds": round(cpu, 1),
        "report": done.stdout.split("\nImport ", 1)[-1].strip(),
    }


def bench_mlflow(store: Path, work: Path) -> dict:
    target = work / "mlflow-migrated.db"
    target.unlink(missing_ok=True)
    mlflow = str(Path(sys.executable).with_name("mlflow"))
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"}
    elapsed, _ = _run(
        [mlflow, "migrate-filestore", "--source", str(store.parent), "--target", f"sqlite:///{target}"], env
    )
    import sqlite3

    with sqlite3.connect(target) as connection:
        points = connection.execute("SELECT count(*) FROM metrics").fetchone()[0]
        runs = connection.execute("SELECT count(*) FROM runs").fetchone()[0]
    return {
        "database": "SQLite (mlflow migrate-filestore)",
        "command seconds": round(elapsed, 1),
        "command CPU seconds": round(_run.cpu, 1),
        "runs": runs,
        "points": points,
        "points/s": round(points / elapsed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db", default="sqlite", help="'sqlite', or a PostgreSQL URL to create the bench database at"
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/studio-import-bench"))
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--points", type=int, default=2_000_000)
    parser.add_argument("--mlflow", action="store_true", help="also time `mlflow migrate-filestore` (SQLite)")
    options = parser.parse_args()

    store = options.work / f"store-{options.runs}-{options.points}" / "mlruns"
    if not store.exists():
        started = time.perf_counter()
        generate(store, runs=options.runs, points=options.points)
        print(f"generated {store} in {time.perf_counter() - started:.1f} s", flush=True)
    results = [bench_studio(store, options.work, options.db)]
    if options.mlflow:
        results.append(bench_mlflow(store, options.work))
    for result in results:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
