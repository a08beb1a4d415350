"""Following long work (an import, a deletion, a job) from the command line: a progress bar
redrawn in place on a terminal, a line per stage when the output is a file or a pipe."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from tracking.models.work import FINAL_STATUSES, LongWork
from tracking.queries.compute import live_workers

BAR_WIDTH = 30
POLL_SECONDS = 0.5
NO_WORKER_WARNING_SECONDS = 5


def progress_line(row: LongWork) -> str:
    if row.total:
        share = min(row.done / row.total, 1.0)
        filled = int(share * BAR_WIDTH)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        return f"[{bar}] {share:4.0%} {row.done}/{row.total}  {row.status.lower()}: {row.stage}"
    return f"[{'.' * BAR_WIDTH}]  {row.status.lower()}: {row.stage or 'waiting for a worker'}"


def worker_alive() -> bool:
    return live_workers().exists()


class Follower:
    """Polls a row until it ends, drawing its progress on the command's stdout."""

    def __init__(self, command: BaseCommand, *, no_worker_hint: str):
        self.command = command
        self.no_worker_hint = no_worker_hint
        self.last_line = ""

    @property
    def interactive(self) -> bool:
        return getattr(self.command.stdout, "isatty", lambda: False)()

    def follow(self, model: type[LongWork], pk: int) -> LongWork:
        warned = False
        started = time.monotonic()
        while True:
            row = model.objects.get(pk=pk)
            self.show(row)
            if row.status in FINAL_STATUSES:
                self.end_line()
                return row
            waiting = time.monotonic() - started > NO_WORKER_WARNING_SECONDS
            if not warned and row.status == "QUEUED" and waiting and not worker_alive():
                self.end_line()
                self.command.stderr.write(f"No worker seems to be running. {self.no_worker_hint}")
                warned = True
            time.sleep(POLL_SECONDS)

    def show(self, row: LongWork) -> None:
        line = progress_line(row)
        if line == self.last_line:
            return
        if self.interactive:
            self.command.stdout.write(f"\r{line:<100}", ending="")
            self.command.stdout.flush()
        elif _stage(line) != _stage(self.last_line):
            self.command.stdout.write(line)
        self.last_line = line

    def end_line(self) -> None:
        if self.last_line and self.interactive:
            self.command.stdout.write("")
        self.last_line = ""


def _stage(line: str) -> str:
    return line.rpartition(": ")[2]
