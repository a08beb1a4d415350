"""What is computed over all of an experiment's runs (its param, metric and tag keys; the runs
grouped by a param with each metric's mean, min and max) is kept until a write changes the runs.

Reading 10,000 runs' 50 metric summaries takes the database most of a second, and the answer is
the same until a run changes. So:

1. Every write to an experiment's runs (metrics, params, tags, a run's status or name, a run
   created, deleted, restored or purged, an import) calls `note_runs_changed`, which sets
   `Experiment.runs_changed_at` to the time, in the write's transaction. A process does that at
   most once every NOTE_EVERY seconds per experiment: a busy run logging thousands of batches a
   second costs one UPDATE a second, not one per batch.
2. `kept_for_runs` keeps an answer with the time it was computed and the experiments' marks and
   run counts (one small query to read). It is used again only when those are unchanged *and*
   the newest mark is older than the answer by more than NOTE_EVERY plus SETTLE_SECONDS: a write
   that skipped its note did so because its process noted one less than NOTE_EVERY before, so
   the mark is at most that far behind any write (SETTLE_SECONDS covers a write's transaction
   and clocks that differ between machines). While runs are being written, answers are
   computed afresh, as they would be without this module.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.core.cache import cache
from django.db import connection, transaction

NOTE_EVERY = 1.0
SETTLE_SECONDS = 2.0
KEEP_SECONDS = 3600  # an unchanged experiment's answers; the cache drops the least used first

T = TypeVar("T")
_noted: dict[int, float] = {}  # experiment pk -> when this process last noted a change (committed)


def note_runs_changed(experiment_pks: Iterable[int]) -> None:
    """Marks the experiments' runs as changed now (call inside the write's transaction)."""
    from tracking.models import Experiment

    now = time.time()
    due = _due(experiment_pks, now)
    if not due:
        return
    Experiment.objects.filter(pk__in=due, runs_changed_at__lt=now).update(runs_changed_at=now)

    def remember() -> None:
        for pk in due:
            _noted[pk] = max(_noted.get(pk, 0.0), now)

    # Only a committed note may excuse the next second's writes: a rolled-back one noted nothing.
    transaction.on_commit(remember)


def runs_change_due(experiment_pks: Iterable[int]) -> bool:
    """Whether `note_runs_changed` would write now: a write that is otherwise a single statement
    needs no transaction when it would not (PostgreSQL's `log_metric`)."""
    return bool(_due(experiment_pks, time.time()))


def _due(experiment_pks: Iterable[int], now: float) -> list[int]:
    return [pk for pk in set(experiment_pks) if now - _noted.get(pk, 0.0) >= NOTE_EVERY]


def forget_notes() -> None:
    """Every process starts with none; tests that move the clock use this."""
    _noted.clear()


def kept_for_runs(
    name: str, experiment_pks: Iterable[int], stage: str, arguments: tuple, compute: Callable[[], T]
) -> T:
    """`compute()`, or its answer kept from an earlier call when the experiments' runs (in
    lifecycle `stage`) have not changed since. `arguments` must say everything else the answer
    depends on."""
    pks = tuple(sorted(set(experiment_pks)))
    if not pks:
        return compute()
    key = "runs-changes:" + hashlib.sha256(repr((name, pks, stage, arguments)).encode()).hexdigest()
    state = _state(pks, stage)
    kept = cache.get(key)
    if kept is not None:
        computed_at, kept_state, answer = kept
        if kept_state == state and state[0] <= computed_at - NOTE_EVERY - SETTLE_SECONDS:
            return answer
    computed_at = time.time()
    answer = compute()
    cache.set(key, (computed_at, state, answer), KEEP_SECONDS)
    return answer


def _state(pks: tuple[int, ...], stage: str) -> tuple:
    """(newest change mark, runs, highest run pk) of the experiments' runs in `stage`, one query."""
    from tracking.models import Experiment, Run

    q = connection.ops.quote_name
    holders = ", ".join(["%s"] * len(pks))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT MAX({q('runs_changed_at')}) FROM {q(Experiment._meta.db_table)} WHERE id IN ({holders})), "
            f"COUNT(*), MAX(id) FROM {q(Run._meta.db_table)} "
            f"WHERE experiment_id IN ({holders}) AND lifecycle_stage = %s",
            [*pks, *pks, stage],
        )
        marked, runs, highest = cursor.fetchone()
    return (marked or 0.0, runs, highest)
