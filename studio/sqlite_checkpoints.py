"""SQLite's WAL written back to the database by a thread of each web worker, not by a request.

In WAL mode a commit appends pages to the `-wal` file; a checkpoint copies them back into the
database and fsyncs it. By default SQLite checkpoints inside the commit that takes the WAL past
1,000 pages, and that request waits for the copy and the fsync. How often depends on how many
pages a write touches: `log_batch`es of 1,000 points to one key whose timestamps repeat land all
over the points' index (a few MB of pages each), and there, in process, the commit's p50 went from
11.8 ms to 2.4 ms and the whole call's from 24.7 ms to 16.2 ms without SQLite's checkpoint; points
that append to their key (the usual training loop: a few dozen pages per 1,000 points) gained
0.2-0.3 ms per call. Here a thread in each web worker asks for a PASSIVE checkpoint once a second:
it runs beside the requests (the sqlite3 module lets go of the GIL while SQLite works), never waits
for a writer or a reader, and keeps the WAL short for the readers.

Connections keep an automatic checkpoint of their own, far later (`WAL_AUTOCHECKPOINT_PAGES`), for
a process without this thread (a worker, a management command) and in case it falls behind; past
a checkpoint the file is cut back to `WAL_SIZE_LIMIT_BYTES`.
"""

from __future__ import annotations

import logging
import threading
import time

WAL_AUTOCHECKPOINT_PAGES = 16_384  # 64 MiB of 4 KiB pages
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
PRAGMAS = (
    f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES};PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES};"
)

logger = logging.getLogger(__name__)


def checkpoint_once() -> tuple[int, int, int]:
    """A PASSIVE checkpoint on this thread's connection: (busy, frames in the WAL, frames written
    back), as SQLite reports them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        return tuple(cursor.fetchone())


def start_checkpointer(every_seconds: float) -> threading.Thread | None:
    """Starts the checkpoint thread of this process when the database is SQLite (call it after
    the fork: a thread does not survive one)."""
    from django.db import connection

    if connection.vendor != "sqlite" or every_seconds <= 0:
        return None
    thread = threading.Thread(
        target=_checkpoint_forever, args=(every_seconds,), name="sqlite-checkpoints", daemon=True
    )
    thread.start()
    return thread


def _checkpoint_forever(every_seconds: float) -> None:
    while True:
        time.sleep(every_seconds)
        try:
            checkpoint_once()
        except Exception:  # the database is locked or away for a moment: the next second will do
            logger.debug("checkpoint skipped", exc_info=True)
