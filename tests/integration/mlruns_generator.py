"""Writes an MLflow file store (`mlruns/`) of any size, quickly, the way MLflow 3 writes one.

The tests use it small; the import benchmark uses it large (not run by the suite at that size):

    .venv/bin/python -m tests.integration.mlruns_generator /tmp/big --runs 1000 --points 2000000
    time .venv/bin/python manage.py import_mlruns /tmp/big/mlruns --in-process

(`tests/integration/import_benchmark.py` does both into a fresh database, and times MLflow's own
`migrate-filestore` beside it.)

Every run gets params, tags (run name, user, source), `--keys` metrics sharing its points, and
one small artifact; a NaN and an infinity are sprinkled in. `tests/tracking/ingest` checks that
MLflow's own FileStore reads what this writes.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from pathlib import Path

import yaml

START_MS = 1_700_000_000_000


def _yaml(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, default_flow_style=False))


def write_experiment(root: Path, experiment_id: str, name: str, *, deleted: bool = False) -> Path:
    folder = (root / ".trash" if deleted else root) / experiment_id
    _yaml(
        folder / "meta.yaml",
        {
            "artifact_location": f"file://{root}/{experiment_id}",
            "creation_time": START_MS,
            "experiment_id": experiment_id,
            "last_update_time": START_MS,
            "lifecycle_stage": "deleted" if deleted else "active",
            "name": name,
        },
    )
    return folder


def write_run(
    experiment: Path,
    *,
    index: int,
    points: int,
    keys: int = 2,
    rng: random.Random,
    run_id: str | None = None,
    artifact: bool = True,
) -> str:
    run_id = run_id or uuid.UUID(int=rng.getrandbits(128)).hex
    folder = experiment / run_id
    start = START_MS + index * 60_000
    _yaml(
        folder / "meta.yaml",
        {
            "artifact_uri": f"file://{folder}/artifacts",
            "end_time": start + 59_000,
            "entry_point_name": "",
            "experiment_id": experiment.name,
            "lifecycle_stage": "active",
            "run_id": run_id,
            "run_name": f"run-{index}",
            "source_name": "",
            "source_type": 4,
            "source_version": "",
            "start_time": start,
            "status": 3,
            "tags": [],
            "user_id": "bench",
        },
    )
    for key, value in (("lr", "0.01"), ("layers", str(index % 7)), ("optimizer", "adam")):
        _write(folder / "params" / key, value)
    for key, value in (
        ("mlflow.runName", f"run-{index}"),
        ("mlflow.user", "bench"),
        ("mlflow.source.type", "LOCAL"),
    ):
        _write(folder / "tags" / key, value)
    (folder / "metrics").mkdir(parents=True, exist_ok=True)
    per_key = [points // keys + (1 if k < points % keys else 0) for k in range(keys)]
    for k, count in enumerate(per_key):
        name = "loss" if k == 0 else f"metric_{k}" if k % 2 else f"val/metric_{k}"
        lines = []
        for step in range(count):
            value = repr(1.0 / (step + 1) + k) if step % 997 != 5 else ("nan" if k == 0 else "inf")
            lines.append(f"{start + step} {value} {step}\n")
        _write(folder / "metrics" / name, "".join(lines))
    if artifact:
        _write(folder / "artifacts" / "notes.txt", f"run {index}\n")
    else:
        (folder / "artifacts").mkdir(parents=True, exist_ok=True)
    return run_id


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def generate(
    root: Path, *, runs: int, points: int, keys: int = 2, experiments: int = 2, seed: int = 7
) -> list[str]:
    """A store at `root` (the mlruns folder) with `runs` runs sharing `points` points; returns the run ids."""
    rng = random.Random(seed)
    write_experiment(root, "0", "Default")
    folders = [write_experiment(root, str(100 + e), f"bench-{e}") for e in range(experiments)]
    run_ids = []
    for index in range(runs):
        share = points // runs + (1 if index < points % runs else 0)
        run_ids.append(write_run(folders[index % experiments], index=index, points=share, keys=keys, rng=rng))
    return run_ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where to create mlruns/")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--points", type=int, default=2_000_000)
    parser.add_argument("--keys", type=int, default=2)
    parser.add_argument("--experiments", type=int, default=2)
    options = parser.parse_args()
    started = time.monotonic()
    root = options.folder / "mlruns"
    generate(
        root, runs=options.runs, points=options.points, keys=options.keys, experiments=options.experiments
    )
    print(f"{root}: {options.runs} runs, {options.points} points in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
