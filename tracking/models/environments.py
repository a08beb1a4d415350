from __future__ import annotations

from pathlib import Path

from django.db import models
from django.utils import timezone

from .workspaces import Workspace


class Environment(models.Model):
    """A job's Python environment: a specification (requirements.txt, conda.yaml or python_env.yaml,
    or the default: just mlflow-skinny) and the virtualenv a worker built from it, kept in
    ENVIRONMENTS_DIR and reused by every job of the workspace with the same specification (its hash).

    Workspace-scoped: a workspace's specifications (which may name private packages) are shown, used
    and deleted in that workspace only, and no workspace's job ever runs in a folder another
    workspace's build made. The cost of building the same specification twice in two workspaces is
    small: uv's download cache is shared and installs are hard links into it.
    """

    PENDING = "PENDING"  # recorded; no worker has built it yet
    BUILDING = "BUILDING"
    READY = "READY"
    FAILED = "FAILED"
    EVICTED = "EVICTED"  # its folder was removed to make room; the next job builds it again
    STATUSES = [(s, s.lower()) for s in (PENDING, BUILDING, READY, FAILED, EVICTED)]

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="environments")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=12)  # pip, conda, python_env, default
    spec_text = models.TextField(blank=True, default="")  # the file as given
    spec = models.TextField()  # the normal form (python and sorted requirements) its hash is of
    spec_hash = models.CharField(max_length=64)
    python_asked = models.CharField(max_length=100, blank=True, default="")
    python_version = models.CharField(max_length=20, blank=True, default="")  # as built
    size_bytes = models.BigIntegerField(default=0)
    status = models.CharField(max_length=8, choices=STATUSES, default=PENDING)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    built_at = models.DateTimeField(null=True)
    last_used_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "spec_hash"], name="environment_per_spec"),
        ]
        indexes = [models.Index(fields=["status", "last_used_at"], name="environment_lru")]

    def __str__(self) -> str:
        return f"environment {self.name} ({self.spec_hash[:12]})"

    @property
    def folder(self) -> Path:
        from tracking.jobs.environment_folders import environment_folder

        return environment_folder(self.workspace.name, self.spec_hash)

    @property
    def requirements(self) -> list[str]:
        return [line for line in self.spec.splitlines()[1:] if line]
