"""Fills a workspace on PostgreSQL with the rows the server itself would have written.

    .venv/bin/python -m tests.perf.capacity fill --scale 100000

The shape, for `--scale N` runs in the big experiment (N = 100,000 gives issue 15's size):

- N // 100 experiments: one with N runs, the others with 1-19 runs each (about N // 10 runs);
- 1,200 param keys and 800 metric keys overall; each experiment uses a window of them, each run
  the window's first 20-50 params (the first 20 always: the hyperparameters every run logs) and
  10-20 metrics, as a training script that grows over time would;
- N * 500 metric points (50 M at 100,000): one run with a 1,000,000-point history, N // 2,000
  runs with a 100,000-point one, the rest short histories (about 25 steps) of all their keys;
- of every 25 runs of an experiment, one is a sweep's parent and the next 4 its nested runs;
- per run the rows `create_run`, `log_batch` and `update_run` write: the run, its tags
  (`mlflow.runName`, user and source, as the MLflow client sets them), params, points, and one
  summary per key (latest point, min, max, count: the latest-metric table); per experiment,
  `runs_changed_at` set to when the fill ended (a write to its runs, as `note_runs_changed` does).

Rows go in with COPY, a batch of runs per transaction. The foreign-key triggers are switched off
for the session (`session_replication_role = replica`, what `pg_restore --disable-triggers`
does): every row refers to a run of the same batch by construction, and checking 50 M references
one by one would double the fill's time. The indexes stay in place, so they grow as the server's
inserts grow them.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

PARAM_KEYS = 1200
METRIC_KEYS = 800
POINTS_PER_RUN = 500  # the scale's share of points: 100,000 runs -> 50 M points
GIANT_POINTS = 1_000_000
LONG_POINTS = 100_000
RUNS_PER_BATCH = 500
BIG_PARAM_WINDOW, BIG_METRIC_WINDOW = 60, 20
SMALL_PARAM_WINDOW, SMALL_METRIC_WINDOW = 40, 15
FIRST_START = datetime(2025, 1, 1, tzinfo=UTC)
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
STATUSES = ("FINISHED",) * 47 + ("FAILED", "FAILED", "KILLED")
# Of each SWEEP runs of an experiment, the first is a sweep's parent and the next CHILDREN its
# nested runs (tag mlflow.parentRunId), as hyperparameter searches log them.
SWEEP, CHILDREN = 25, 4


def param_key(index: int) -> str:
    return f"param_{index % PARAM_KEYS:04d}"


def metric_key(index: int) -> str:
    return f"metric_{index % METRIC_KEYS:03d}"


@dataclass
class ExperimentPlan:
    pk: int
    number: int
    runs: int
    param_keys: list[str]
    metric_keys: list[str]


@dataclass
class Plan:
    """What `--scale N` writes; `big` is the experiment of N runs, first in `experiments`."""

    scale: int
    experiments: list[ExperimentPlan] = field(default_factory=list)

    @property
    def big(self) -> ExperimentPlan:
        return self.experiments[0]

    @property
    def total_runs(self) -> int:
        return sum(e.runs for e in self.experiments)

    @property
    def target_points(self) -> int:
        return self.scale * POINTS_PER_RUN

    @property
    def long_runs(self) -> int:
        return max(1, self.scale // 2000)

    def short_steps_mean(self) -> float:
        """Steps per key of an ordinary run, so that the points add up to `target_points`."""
        rest = self.target_points - GIANT_POINTS - self.long_runs * LONG_POINTS
        series = sum(e.runs * (10 + min(20, len(e.metric_keys))) / 2 for e in self.experiments)
        return max(1.0, rest / series)


def plan(scale: int, experiment_pks: list[int], rng: random.Random) -> Plan:
    """The experiments numbered 1, 2, ... (0 is the workspace's Default), with these pks."""
    count = len(experiment_pks)
    result = Plan(scale)
    for index in range(count):
        big = index == 0
        param_window = BIG_PARAM_WINDOW if big else SMALL_PARAM_WINDOW
        metric_window = BIG_METRIC_WINDOW if big else SMALL_METRIC_WINDOW
        # Spread the windows over the key pools so that all 2,000 keys are used at any scale.
        param_start, metric_start = index * PARAM_KEYS // count, index * METRIC_KEYS // count
        result.experiments.append(
            ExperimentPlan(
                pk=experiment_pks[index],
                number=index + 1,
                runs=scale if big else rng.randint(1, 19),
                param_keys=[param_key(param_start + k) for k in range(param_window)],
                metric_keys=[metric_key(metric_start + k) for k in range(metric_window)],
            )
        )
    return result


class Progress:
    """Prints points/s and the time left, at most every two seconds."""

    def __init__(self, target: int) -> None:
        self.target, self.done, self.runs = target, 0, 0
        self.began = self.printed = time.perf_counter()

    def add(self, points: int, runs: int = 0, force: bool = False) -> None:
        self.done += points
        self.runs += runs
        now = time.perf_counter()
        if not force and now - self.printed < 2:
            return
        self.printed = now
        rate = self.done / max(now - self.began, 1e-9)
        left = max(self.target - self.done, 0) / rate if rate else 0
        print(
            f"  {self.done:>12,} points ({100 * self.done / self.target:5.1f} %), {self.runs:>8,} runs, "
            f"{rate:>9,.0f} points/s, {now - self.began:6.0f} s, ETA {left:6.0f} s",
            flush=True,
        )


def _ts(moment: datetime) -> str:
    return moment.isoformat()


class RunWriter:
    """Builds one batch of runs' rows as COPY text, and streams their points."""

    def __init__(self, rng: random.Random, steps_mean: float, sweeps: dict[int, str]) -> None:
        # The words `generate_run_name` picks from, so that names look like the server's.
        from tracking.services.run_names import ADJECTIVES, ANIMALS

        self.words = ADJECTIVES, ANIMALS
        self.rng = rng
        self.sweeps = sweeps  # experiment pk -> the uuid of its latest sweep's parent run
        self.steps_high = max(1, round(2 * steps_mean - 1))
        self.runs: list[str] = []
        self.tags: list[str] = []
        self.params: list[str] = []
        self.summaries: list[str] = []
        self.histories: list[tuple[int, list[str], int, list[tuple[str, int]], datetime, float]] = []

    def add_run(self, run_pk: int, experiment: ExperimentPlan, index: int, history: int | None) -> None:
        """`history`: the points of the run's first metric, when it is a long one."""
        rng = self.rng
        run_uuid = uuid.uuid4().hex  # not from `rng`: unique across fills of the same seed
        start = FIRST_START + timedelta(seconds=index * 311 + rng.randint(0, 300))
        seconds = rng.uniform(60, 4 * 3600) if history is None else history / 50
        status = rng.choice(STATUSES)
        name = f"{rng.choice(self.words[0])}-{rng.choice(self.words[1])}-{rng.randint(0, 999)}"
        self.runs.append(
            f"{run_pk}\t{run_uuid}\t{experiment.pk}\t{name}\tada\t{status}\t{_ts(start)}\t"
            f"{_ts(start + timedelta(seconds=seconds))}\tactive\t\\N\t"
            f"mlflow-artifacts:/{experiment.number}/{run_uuid}/artifacts\n"
        )
        for key, value in (
            ("mlflow.runName", name),
            ("mlflow.user", "ada"),
            ("mlflow.source.name", "train.py"),
            ("mlflow.source.type", "LOCAL"),
            ("mlflow.source.git.commit", f"{rng.getrandbits(160):040x}"),
        ):
            self.tags.append(f"{run_pk}\t{key}\t{value}\n")
        if index % SWEEP == 0:
            self.sweeps[experiment.pk] = run_uuid
        elif index % SWEEP <= CHILDREN:
            self.tags.append(f"{run_pk}\tmlflow.parentRunId\t{self.sweeps[experiment.pk]}\n")
        for position, key in enumerate(experiment.param_keys[: rng.randint(20, 50)]):
            self.params.append(f"{run_pk}\t{key}\t{_param_value(position, rng)}\n")
        keys = experiment.metric_keys[: rng.randint(10, min(20, len(experiment.metric_keys)))]
        steps = rng.randint(1, self.steps_high)
        lengths = [(key, history if history and i == 0 else steps) for i, key in enumerate(keys)]
        self.histories.append((run_pk, keys, steps, lengths, start, seconds))

    def write_points(self, copy, progress: Progress) -> None:
        """Streams the batch's points; notes each key's summary row."""
        rng = self.rng
        for run_pk, _keys, _steps, lengths, start, seconds in self.histories:
            start_ms = int(start.timestamp() * 1000)
            for key, length in lengths:
                level, drop, pace = (
                    rng.uniform(0.0, 0.5),
                    rng.uniform(0.5, 2.0),
                    rng.uniform(0.05, 0.3) * length,
                )
                every_ms = max(1, int(seconds * 1000 / length))
                prefix = f"{run_pk}\t{key}\t"
                low, high = math.inf, -math.inf
                for chunk_start in range(0, length, 100_000):
                    lines = []
                    for step in range(chunk_start, min(length, chunk_start + 100_000)):
                        value = level + drop * math.exp(-step / pace) + 0.02 * rng.random()
                        low, high = min(low, value), max(high, value)
                        lines.append(f"{prefix}{value!r}\t{start_ms + step * every_ms}\t{step}\n")
                    copy.write("".join(lines))
                    progress.add(len(lines))
                last = length - 1
                self.summaries.append(
                    f"{run_pk}\t{key}\t{value!r}\t{start_ms + last * every_ms}\t{last}\t{low!r}\t{high!r}\t{length}\n"
                )


def _param_value(position: int, rng: random.Random) -> str:
    if position == 0:
        return rng.choice(OPTIMIZERS)
    if position == 1:
        return str(rng.choice((1e-4, 3e-4, 1e-3, 3e-3, 1e-2)))
    if position == 2:
        return str(rng.choice((16, 32, 64, 128, 256)))
    if position % 3 == 0:
        return f"{rng.random():.4f}"
    return str(rng.randint(0, 1000))


def fill(scale: int, workspace_name: str, seed: int = 15) -> None:
    """Creates the workspace `workspace_name` and fills it (see the module's docstring)."""
    from django.db import connection, transaction

    from tracking.models import Experiment, Workspace
    from tracking.models.workspaces import DEFAULT_RESOURCE_GROUP, ResourceGroup
    from tracking.services.experiments import artifact_location_for
    from tracking.services.workspaces import create_workspace

    if connection.vendor != "postgresql":
        raise SystemExit(
            "The capacity fill writes with PostgreSQL's COPY: set DATABASE_URL to a PostgreSQL database."
        )
    rng = random.Random(seed)
    workspace = create_workspace(
        resource_group=ResourceGroup.objects.get(name=DEFAULT_RESOURCE_GROUP), name=workspace_name
    )
    now = datetime.now(UTC)
    experiments = [
        Experiment(
            workspace=workspace,
            number=number,
            name=f"runs-{scale}" if number == 1 else f"capacity-{number:04d}",
            artifact_location=artifact_location_for(number),
            created_at=now,
            updated_at=now,
        )
        for number in range(1, max(2, scale // 100) + 1)
    ]
    created = Experiment.objects.bulk_create(experiments)
    Workspace.objects.filter(pk=workspace.pk).update(last_experiment_number=len(created))
    shape = plan(scale, [experiment.pk for experiment in created], rng)
    print(
        f"workspace {workspace_name}: {len(created):,} experiments, {shape.total_runs:,} runs "
        f"({scale:,} in experiment 1, 'runs-{scale}'), about {shape.target_points:,} points",
        flush=True,
    )

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence('tracking_run', 'id')")
        (sequence,) = cursor.fetchone()
        cursor.execute("SELECT nextval(%s)", [sequence])
        (first_run_pk,) = cursor.fetchone()
        cursor.execute("SELECT setval(%s, %s)", [sequence, first_run_pk + shape.total_runs])

    # The long histories: the giant run is the big experiment's first, then every
    # scale // long_runs-th run of it.
    long_every = scale // shape.long_runs
    progress = Progress(shape.target_points)
    run_pk = first_run_pk
    work = [(e, i) for e in shape.experiments for i in range(e.runs)]
    steps_mean = shape.short_steps_mean()
    sweeps: dict[int, str] = {}
    for batch_start in range(0, len(work), RUNS_PER_BATCH):
        writer = RunWriter(rng, steps_mean, sweeps)
        for experiment, index in work[batch_start : batch_start + RUNS_PER_BATCH]:
            history = None
            if experiment is shape.big and index == 0:
                history = GIANT_POINTS
            elif experiment is shape.big and index % long_every == long_every // 2:
                history = LONG_POINTS
            writer.add_run(run_pk, experiment, index, history)
            run_pk += 1
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            _copy(cursor, "tracking_run", _RUN_COLUMNS, writer.runs)
            _copy(cursor, "tracking_runtag", ("run_id", "key", "value"), writer.tags)
            _copy(cursor, "tracking_param", ("run_id", "key", "value"), writer.params)
            with cursor.copy("COPY tracking_metric (run_id, key, value, timestamp, step) FROM STDIN") as copy:
                writer.write_points(copy, progress)
            _copy(cursor, "tracking_metricsummary", _SUMMARY_COLUMNS, writer.summaries)
        progress.add(0, runs=len(writer.runs))
    progress.add(0, force=True)
    Experiment.objects.filter(workspace=workspace).update(runs_changed_at=time.time())
    with connection.cursor() as cursor:
        # What autovacuum does after a server's inserts, at once: the planner's statistics, and
        # the visibility map that lets index-only scans (run counts) skip the table.
        cursor.execute("VACUUM ANALYZE")
    print(f"filled in {time.perf_counter() - progress.began:.0f} s", flush=True)


_RUN_COLUMNS = (
    "id",
    "uuid",
    "experiment_id",
    "name",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "lifecycle_stage",
    "deleted_at",
    "artifact_uri",
)
_SUMMARY_COLUMNS = ("run_id", "key", "value", "timestamp", "step", "min_value", "max_value", "count")


def _copy(cursor, table: str, columns: tuple[str, ...], lines: list[str]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write("".join(lines))
