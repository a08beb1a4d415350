"""Reading imports: one by id within its workspace, and a workspace's latest ones."""

from __future__ import annotations

from django.db.models import QuerySet

from tracking.errors import ResourceDoesNotExist
from tracking.models import Import, Workspace


def get_import(workspace: Workspace, import_id: int) -> Import:
    """The import with this id in this workspace, or RESOURCE_DOES_NOT_EXIST."""
    row = Import.objects.filter(pk=import_id, workspace=workspace).select_related("workspace").first()
    if row is None:
        raise ResourceDoesNotExist(f"Import {import_id} does not exist in workspace '{workspace.name}'.")
    return row


def list_imports(workspace: Workspace, *, offset: int = 0, limit: int = 50) -> list[Import]:
    """The workspace's imports, newest first, in one query; the long lists (problems, the
    checkpoint) are left in the database."""
    rows: QuerySet[Import] = (
        Import.objects.filter(workspace=workspace)
        .defer("problems", "checkpoint", "experiment_numbers", "source_path")
        .order_by("-created_at", "-pk")
    )
    return list(rows[offset : offset + limit])
