"""Keeping each experiment's key registry (`ExperimentKey`) current, inside the writes.

The registry holds the param, metric and tag keys that at least one of the experiment's active
runs holds: what the runs table offers as columns, read in one indexed query. Every writer of
params, tags, metric summaries or a run's lifecycle stage calls one of these functions in its
own transaction (they are the same writers that call `note_runs_changed`):

1. A key comes with the write that logs it: `register_keys` (log_param, set_tag, log_batch,
   create_run's tags; log_metric's keys go with its points, `registering_metric_keys` on PostgreSQL),
   `register_run_keys` (a restored run, an imported chunk), `register_experiment_keys` (a
   restored experiment). Each is one `INSERT ... ON CONFLICT DO NOTHING`, whatever the number
   of keys: a key already known costs one index probe.
2. A key leaves when no active run of the experiment holds it any more: `prune_keys` (a tag or
   a metric deleted), `prune_run_keys` (a run deleted, or purged for good),
   `forget_experiment_keys` (an experiment deleted, with all its runs). Each is one
   `DELETE ... WHERE NOT EXISTS (an active run of the experiment with that key)`, for the keys
   concerned only.

One race remains. Under READ COMMITTED, a write that logs key K for a new run while K's last
holder is being deleted may find K's row still there (its insert does nothing) while the
deletion, not seeing the write's uncommitted row, removes it: K is then missing though a run
holds it. (The other order is safe: an insert that meets a row being deleted waits for the
deletion and inserts after it.) It heals at the next write of K: a metric is re-registered by
every `log_metric` and `log_batch` that logs it, so a run still logging brings it back within
one call. A param is logged once per run, so its key comes back only when another run logs it
(or a run holding it is restored); until then it is missing from the columns one can pick,
though a filter or a sort naming it still works. It takes two writes of the same key, one of
them deleting the key's last holder, within the same few milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from django.db import connection

from tracking.models import ExperimentKey, MetricSummary, Param, Run, RunTag
from tracking.models.experiments import ACTIVE
from tracking.raw_sql import quote as _q
from tracking.raw_sql import table as _table

PARAM, METRIC, TAG = ExperimentKey.PARAM, ExperimentKey.METRIC, ExperimentKey.TAG
# Where the runs' keys of each kind are: one row per run and key.
HOLDERS = {PARAM: Param, METRIC: MetricSummary, TAG: RunTag}
# MLflow's own tags (`mlflow.runName`, `mlflow.user`, ...) are not offered as columns, nor registered.
MLFLOW_TAGS = "mlflow."
# Rows per INSERT: SQLite allows 32,766 bound variables per statement.
_ROWS_PER_INSERT = 5000


def _holders(count: int) -> str:
    return ", ".join(["%s"] * count)


@lru_cache(maxsize=1)  # a process speaks to one database; every write that logs a key builds it
def _insert() -> str:
    return f"INSERT INTO {_table(ExperimentKey)} ({_q('experiment_id')}, {_q('kind')}, {_q('key')}) "


# --- 1. Keys come --------------------------------------------------------------------------------


def register_keys(
    experiment_pk: int, *, params: Iterable[str] = (), metrics: Iterable[str] = (), tags: Iterable[str] = ()
) -> None:
    """Registers the keys a write logs for a run of the experiment (one statement; none when
    there are no keys to register)."""
    tags = [key for key in tags if not key.startswith(MLFLOW_TAGS)]
    rows = [
        (experiment_pk, kind, key)
        for kind, keys in ((PARAM, params), (METRIC, metrics), (TAG, tags))
        for key in dict.fromkeys(keys)
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start : start + _ROWS_PER_INSERT]
            cursor.execute(
                _insert() + "VALUES " + ", ".join(["(%s, %s, %s)"] * len(chunk)) + " ON CONFLICT DO NOTHING",
                [value for row in chunk for value in row],
            )


def registering_metric_keys(experiment_pk: int, keys: list[str]) -> tuple[str, list]:
    """PostgreSQL only: `register_keys(metrics=keys)` as a data-modifying CTE (`WITH ...`) to put
    in front of the statement that inserts the points, so that log_metric registers its key in
    the round trip it makes anyway (its latency is what a training loop waits for)."""
    return registering_keys(experiment_pk, METRIC, keys)


def registering_keys(experiment_pk: int, kind: str, keys: list[str]) -> tuple[str, list]:
    """PostgreSQL only: `register_keys` of one kind as a data-modifying CTE (`WITH ...`) to put in
    front of the write that logs the keys (one round trip for both); `WITH` alone when there is
    nothing to register (MLflow's own tags)."""
    if kind == TAG:
        keys = [key for key in keys if not key.startswith(MLFLOW_TAGS)]
    if not keys:
        return "WITH ", []
    return (
        f"WITH registered_keys AS ({_insert()}VALUES {', '.join(['(%s, %s, %s)'] * len(keys))} "
        f"ON CONFLICT DO NOTHING), ",
        [value for key in keys for value in (experiment_pk, kind, key)],
    )


def register_run_keys(run_pks: list[int]) -> None:
    """Registers every key the given runs hold, if they are active (a restored run; a chunk of
    imported runs, whose params, tags and summaries are written in bulk)."""
    if run_pks:
        _register_held(f"r.id IN ({_holders(len(run_pks))})", list(run_pks))


def register_experiment_keys(experiment_pk: int) -> None:
    """Registers every key the experiment's active runs hold (the experiment was restored, and
    its runs with it): reads all its runs' keys, as the runs table did before the registry."""
    _register_held("r.experiment_id = %s", [experiment_pk])


def _register_held(runs_condition: str, params: list) -> None:
    selects, values = [], []
    for kind, model in HOLDERS.items():
        selects.append(
            f"SELECT DISTINCT r.experiment_id, %s, k.{_q('key')} FROM {_table(model)} k "
            f"JOIN {_table(Run)} r ON r.id = k.run_id WHERE r.lifecycle_stage = %s AND {runs_condition}"
        )
        values += [kind, ACTIVE, *params]
        if kind == TAG:
            # substr, not LIKE: SQLite's LIKE ignores case, and `startswith` does not.
            selects[-1] += f" AND substr(k.{_q('key')}, 1, %s) <> %s"
            values += [len(MLFLOW_TAGS), MLFLOW_TAGS]
    with connection.cursor() as cursor:
        # Each SELECT ends in a WHERE clause, so SQLite reads ON CONFLICT as the upsert's.
        cursor.execute(_insert() + " UNION ALL ".join(selects) + " ON CONFLICT DO NOTHING", values)


# --- 2. Keys leave -------------------------------------------------------------------------------


def _held_by_an_active_run(kind: str, excluded_runs: str = "") -> str:
    """SQL: whether an active run of the registry row's experiment holds its key (runs matching
    `excluded_runs`, a condition on `r`, left out)."""
    model = HOLDERS[kind]
    return (
        f"EXISTS (SELECT 1 FROM {_table(model)} k JOIN {_table(Run)} r ON r.id = k.run_id "
        f"WHERE r.experiment_id = {_table(ExperimentKey)}.{_q('experiment_id')} AND r.lifecycle_stage = %s "
        f"AND k.{_q('key')} = {_table(ExperimentKey)}.{_q('key')}{excluded_runs})"
    )


def prune_keys(experiment_pk: int, kind: str, keys: list[str]) -> None:
    """Unregisters those of the keys that no active run of the experiment holds any more (a tag
    or a metric was deleted from a run)."""
    if kind == TAG:
        keys = [key for key in keys if not key.startswith(MLFLOW_TAGS)]
    if not keys:
        return
    registry = _table(ExperimentKey)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {registry} WHERE {_q('experiment_id')} = %s AND {_q('kind')} = %s "
            f"AND {_q('key')} IN ({_holders(len(keys))}) AND NOT {_held_by_an_active_run(kind)}",
            [experiment_pk, kind, *keys, ACTIVE],
        )


def prune_run_keys(run_pks: list[int]) -> None:
    """Unregisters the keys the runs hold that no other active run of their experiments holds
    (the runs were deleted, or are about to be purged: call before their rows go). One statement."""
    if not run_pks:
        return
    registry, runs = _table(ExperimentKey), _holders(len(run_pks))
    not_these = f" AND r.id NOT IN ({runs})"
    kinds, values = [], []
    for kind, model in HOLDERS.items():
        kinds.append(
            f"({_q('kind')} = %s AND {_q('key')} IN (SELECT {_q('key')} FROM {_table(model)} WHERE run_id IN ({runs})) "
            f"AND NOT {_held_by_an_active_run(kind, not_these)})"
        )
        values += [kind, *run_pks, ACTIVE, *run_pks]
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {registry} WHERE {_q('experiment_id')} IN "
            f"(SELECT experiment_id FROM {_table(Run)} WHERE id IN ({runs})) AND ({' OR '.join(kinds)})",
            [*run_pks, *values],
        )


def forget_experiment_keys(experiment_pk: int) -> None:
    """Empties the experiment's registry: it was deleted, and all its runs with it (restoring it
    registers them again)."""
    ExperimentKey.objects.filter(experiment_id=experiment_pk).delete()
