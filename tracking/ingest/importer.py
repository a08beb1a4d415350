"""Carrying out an import: claim the row, then work through the file store in chunks.

Every chunk is one transaction that writes the data, the report and the checkpoint together, so
an import stopped anywhere (a killed worker, a lost database connection) resumes from its last
commit, and what was written once is never written twice. On top of that, every write is
idempotent: a run that is already in the workspace is completed (missing params, tags, points
and files are added) instead of duplicated, which is what makes importing the same folder twice
change nothing.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from tracking.models import Import
from tracking.models.work import LostClaim
from tracking.staging import discard, is_staged, local_copy

from .archives import ArchiveRefused, unpack
from .files import SourceFolder
from .reader import FileStoreReader, NotAFileStore, find_store_root
from .report import Report

logger = logging.getLogger(__name__)


def chunk_points() -> int:
    """Points per transaction (IMPORT_CHUNK_POINTS): on SQLite a transaction holds the write lock."""
    return max(settings.IMPORT_CHUNK_POINTS, 1)


Progress = Callable[[Import], None]


class ImportFailed(Exception):
    """The import cannot go on (nothing to import, an unsafe archive); the message goes on the row."""


def worker_name(prefix: str = "cli") -> str:
    return f"{prefix}@{socket.gethostname()}:{os.getpid()}"


class Job:
    """An import being carried out by this worker: its row, source, report and checkpoint."""

    def __init__(self, row: Import, on_progress: Progress | None = None) -> None:
        self.row = row
        self.workspace = row.workspace
        self.report = Report(row.counts, row.problems, row.problem_count)
        self.checkpoint: dict = dict(row.checkpoint)
        self.done = row.done
        self.total = row.total
        self.stage = row.stage
        self.on_progress = on_progress
        self.source: SourceFolder | None = None
        self.reader: FileStoreReader | None = None
        self.numbers: dict[str, int] = {}  # source experiment id -> number here

    def open_source(self, root: Path) -> None:
        self.source = SourceFolder(root, self.report.problem)
        self.reader = FileStoreReader(self.source)

    def beat(self) -> None:
        self.row.beat()

    def _save_fields(self) -> dict:
        return {
            "done": self.done,
            "total": self.total,
            "stage": self.stage,
            "checkpoint": self.checkpoint,
            "experiment_numbers": self.numbers,
            **self.report.fields(),
        }

    @contextmanager
    def step(self, stage: str | None = None) -> Iterator[None]:
        """One transaction of work, saved on the row with the report and the checkpoint.

        If the work or the save fails (LostClaim included), the data, the report, the
        checkpoint and the progress all go back to the last commit.
        """
        saved = (self.report.snapshot(), dict(self.checkpoint), self.done, self.total, self.stage)
        if stage is not None:
            self.stage = stage
        try:
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    # The checkpoint commits with the data: a commit lost in a crash is redone.
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL synchronous_commit TO OFF")
                yield
                self.row.report(**self._save_fields())
        except BaseException:
            snapshot, self.checkpoint, self.done, self.total, self.stage = saved
            self.report.restore(snapshot)
            raise
        if self.on_progress is not None:
            self.on_progress(self.row)

    def steps(self, stage: str) -> Steps:
        return Steps(self, stage)


class Steps:
    """Consecutive transactions for one chunk of work, committed every `chunk_points()` points.

    `before_commit` functions run inside each transaction just before it commits (what is
    pending must be written: the COPY stream ended, summaries updated); `on_abort` functions run
    before a failed transaction is rolled back (a COPY left open would prevent the rollback).
    """

    def __init__(self, job: Job, stage: str) -> None:
        self.job, self.stage = job, stage
        self.hooks: list[Callable[[], None]] = []
        self.abort_hooks: list[Callable[[], None]] = []
        self.points = 0
        self._stack: ExitStack | None = None

    def __enter__(self) -> Steps:
        self._open()
        return self

    def _open(self) -> None:
        self._stack = ExitStack()
        self._stack.enter_context(self.job.step(self.stage))
        self.points = 0

    def before_commit(self, hook: Callable[[], None]) -> None:
        self.hooks.append(hook)

    def on_abort(self, hook: Callable[[], None]) -> None:
        self.abort_hooks.append(hook)

    def add_points(self, count: int) -> None:
        self.points += count
        if self.points >= chunk_points():
            self._commit()
            self._open()

    def _commit(self) -> None:
        try:
            for hook in self.hooks:
                hook()
        except BaseException as error:
            self._abort(error)
            raise
        stack, self._stack = self._stack, None
        stack.close()

    def _abort(self, error: BaseException) -> None:
        for hook in self.abort_hooks:
            hook()
        stack, self._stack = self._stack, None
        stack.__exit__(type(error), error, error.__traceback__)

    def __exit__(self, kind, error, traceback) -> bool:
        if self._stack is None:
            return False
        if kind is not None:
            self._abort(error)
            return False
        self._commit()
        return False


# --- The whole import ----------------------------------------------------------------------------


def run_import(import_id: int, *, worker: str, on_progress: Progress | None = None) -> Import | None:
    """Claims the import and carries it through to the end; safe to call twice, and to resume.

    1. Claim the row; None if it is not claimable (another worker has it, or it has ended).
    2. Find the file store: the folder, or the archive unpacked once (the checkpoint says where).
    3. Refuse the store if any of its runs is in another workspace (nothing written yet).
       Experiments: match (by name) or create them all in one transaction.
    4. Runs, experiment by experiment, in chunks (`runs.import_runs`).
    5. Logged models, then registered models and their versions, one transaction each.
    6. Succeed, and delete an uploaded archive and what it unpacked to.

    An unreadable file is skipped and reported; the import fails only when it cannot go on at
    all, with the reason on the row. A lost claim (taken over, cancelled) stops it quietly.
    """
    row = Import.claim(import_id, worker)
    if row is None:
        return None
    job = Job(row, on_progress)
    try:
        with _no_cyclic_gc():
            _carry_out(job)
    except LostClaim:
        logger.info("import %s was taken over or cancelled; this worker stops", import_id)
        row = _reloaded(row)
        if not row.is_active:  # cancelled (not taken over): nothing will need its files
            _clean_up(row)
        return row
    except (ImportFailed, ArchiveRefused, NotAFileStore) as error:
        _fail(job, str(error))
    except Exception as error:
        logger.exception("import %s failed", import_id)
        _fail(job, f"Internal error: {type(error).__name__}: {error}")
    _clean_up(row)
    if on_progress is not None:
        on_progress(row)
    return _reloaded(row)


def _carry_out(job: Job) -> None:
    from .experiments import import_experiments
    from .logged_models import import_logged_models
    from .registered_models import import_registered_models
    from .runs import import_runs, refuse_runs_of_other_workspaces

    job.open_source(_store_root(job))
    if "experiments" not in job.checkpoint:  # nothing is written yet
        refuse_runs_of_other_workspaces(job)
    experiments = import_experiments(job)
    import_runs(job, experiments)
    import_logged_models(job, experiments)
    import_registered_models(job)
    job.stage = "done"
    job.row.succeed(**job._save_fields())


_gc_lock = threading.Lock()
_gc_holders = 0
_gc_was_enabled = True


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Turns the cyclic garbage collector off while importing (for every thread of the process).

    An import holds hundreds of thousands of points (tuples) at a time, and each collection
    walks them all: the collector took two thirds of the time spent reading metric files.
    Reference counting still frees everything an import lets go of; the collector is turned
    back on when the last import running in the process ends.
    """
    global _gc_holders, _gc_was_enabled
    with _gc_lock:
        if _gc_holders == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_holders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_was_enabled:
                gc.enable()


def _reloaded(row: Import) -> Import:
    row.refresh_from_db()
    return row


def _fail(job: Job, message: str) -> None:
    with suppress(LostClaim):  # cancelled meanwhile: the row says so already
        job.row.fail(message[:10_000], **job._save_fields())


def _store_root(job: Job) -> Path:
    row = job.row
    if row.source_kind == Import.FOLDER:
        return find_store_root(Path(row.source_path))
    unpacked = job.checkpoint.get("unpacked")
    if not unpacked:
        target = work_folder(row) / "unpacked"
        with job.step("unpacking the archive"):
            pass  # the stage shows while unpacking; the checkpoint moves after it
        try:
            # An archive staged in the object store comes to this worker's disk for the unpacking.
            with local_copy(row.source_path, work_folder(row)) as archive:
                links = unpack(archive, target, beat=job.beat)
        except FileNotFoundError:
            raise ArchiveRefused("The uploaded archive is missing (deleted before the import ran).") from None
        with job.step("unpacked"):
            for name in links:
                job.report.problem(name, "a link inside the archive; not unpacked")
            job.checkpoint["unpacked"] = str(target)
        unpacked = str(target)
    return find_store_root(Path(unpacked))


def work_folder(row: Import) -> Path:
    return Path(settings.IMPORTS_DIR) / str(row.pk)


def _clean_up(row: Import) -> None:
    """An ended import keeps nothing on disk of its own: its upload and unpacked folder go."""
    folder = work_folder(row)
    if folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
    if row.source_kind != Import.ARCHIVE:
        return
    if is_staged(row.source_path) or Path(row.source_path).is_relative_to(Path(settings.IMPORTS_DIR)):
        discard(row.source_path)
