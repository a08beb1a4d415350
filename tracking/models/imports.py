from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models

from .work import LongWork
from .workspaces import Workspace

# The problems kept on the row; past this many only `problem_count` keeps counting.
MAX_PROBLEMS = 1000


class Import(LongWork):
    """Bringing an MLflow file store (`mlruns/`) into a workspace: what was asked, how far it got,
    and the report: counts read and written per kind, and every file that could not be read."""

    FOLDER = "folder"
    ARCHIVE = "archive"
    SOURCE_KINDS = [(FOLDER, "folder"), (ARCHIVE, "archive")]

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="imports")
    source_kind = models.CharField(max_length=7, choices=SOURCE_KINDS)
    # A folder on the worker's disk, or the archive (uploaded ones are kept under IMPORTS_DIR).
    source_path = models.TextField()
    # The name the person knows the source by (an uploaded file's name, or the path given).
    source_name = models.CharField(max_length=500, blank=True, default="")
    # {"runs": {"read": 12, "written": 12}, "metrics": {...}, ...}
    counts = models.JSONField(default=dict)
    # [{"file": "<path inside the source>", "message": "..."}], at most MAX_PROBLEMS of them.
    problems = models.JSONField(default=list)
    problem_count = models.IntegerField(default=0)
    # Source experiment id -> experiment number in the workspace (they differ when it was taken).
    experiment_numbers = models.JSONField(default=dict)
    # Where to carry on after an interruption; written in the same transaction as the work.
    checkpoint = models.JSONField(default=dict)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "created_at"], name="import_per_workspace"),
            models.Index(fields=["status", "heartbeat_at"], name="import_status_heartbeat"),
        ]

    def __str__(self) -> str:
        return f"import {self.pk} of {self.source_name or self.source_path}"

    @classmethod
    def stale_after(cls) -> timedelta:
        return timedelta(seconds=settings.IMPORT_STALE_SECONDS)
