"""Keeping long work moving: the sweeper's part, shared by imports and deletions.

A message can be lost (the broker was down when the row was committed, a worker died holding it),
so a periodic sweeper sends a new one for every row that should be moving and is not. A message
too many does no harm: the task claims its row with a conditional update first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.utils import timezone

from tracking.models.work import LongWork

logger = logging.getLogger(__name__)

# A worker that died this many times on one row (killed, out of memory) will die again.
MAX_ATTEMPTS = 5


def resend_stalled(model: type[LongWork], enqueue: Callable[[int], None]) -> list[int]:
    """Sends a message for each row of `model` that should be moving and is not, giving up on
    those whose worker died MAX_ATTEMPTS times; returns the ids of the rows sent again."""
    cutoff = timezone.now() - model.stale_after()
    resent = []
    for pk, attempts in model.needing_a_message().values_list("pk", "attempts"):
        if attempts >= MAX_ATTEMPTS:
            error = f"Gave up after {attempts} attempts: the worker stopped each time (killed, or out of memory?)."
            if model.abandon(pk, error):
                logger.warning("%s %s abandoned after %s attempts", model.__name__, pk, attempts)
            continue
        # Conditional, so that two sweepers (two beat processes) do not both send one.
        if model.mark_enqueued(pk, unless_after=cutoff):
            enqueue(pk)
            resent.append(pk)
    return resent
