"""An import's report: counts read and written per kind, and the files it could not read.

The report lives in memory while the import works and is saved on the row with every chunk, in
the chunk's own transaction, so that after an interruption the row says exactly what the
database holds. When a chunk fails, `restore()` takes the report back to the last saved state.
"""

from __future__ import annotations

import copy
from typing import Any

from tracking.models.imports import MAX_PROBLEMS

# The order the CLI and the API show them in.
KINDS = (
    "experiments",
    "experiment_tags",
    "runs",
    "params",
    "tags",
    "metrics",
    "datasets",
    "inputs",
    "outputs",
    "artifacts",
    "logged_models",
    "logged_model_params",
    "logged_model_tags",
    "logged_model_metrics",
    "registered_models",
    "registered_model_tags",
    "model_versions",
    "model_version_tags",
    "aliases",
    "traces",
)


class Report:
    def __init__(self, counts: dict | None = None, problems: list | None = None, problem_count: int = 0):
        self.counts: dict[str, dict[str, int]] = copy.deepcopy(counts or {})
        self.problems: list[dict[str, str]] = list(problems or [])
        self.problem_count = problem_count

    def read(self, kind: str, n: int = 1) -> None:
        self._add(kind, "read", n)

    def wrote(self, kind: str, n: int = 1) -> None:
        self._add(kind, "written", n)

    def _add(self, kind: str, side: str, n: int) -> None:
        if n:
            entry = self.counts.setdefault(kind, {"read": 0, "written": 0})
            entry[side] += n

    def problem(self, file: str, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append({"file": file, "message": message})

    def snapshot(self) -> tuple:
        return copy.deepcopy(self.counts), len(self.problems), self.problem_count

    def restore(self, snapshot: tuple) -> None:
        counts, kept, count = snapshot
        self.counts, self.problem_count = counts, count
        del self.problems[kept:]

    def fields(self) -> dict[str, Any]:
        return {"counts": self.counts, "problems": self.problems, "problem_count": self.problem_count}


def ordered_counts(counts: dict[str, dict[str, int]]) -> list[tuple[str, int, int]]:
    """(kind, read, written) in the usual order, kinds the import never met left out."""
    known = [kind for kind in KINDS if kind in counts]
    others = sorted(kind for kind in counts if kind not in KINDS)
    return [(kind, counts[kind].get("read", 0), counts[kind].get("written", 0)) for kind in known + others]
