"""Imports of MLflow file stores: the row first, the task when the row is committed.

The task gets only the row's id. A message can be lost (the broker was down at commit, a worker
died holding it), so the sweeper (`resend_stalled_imports`, on the beat schedule) sends a new
one for every import that should be moving and is not; a message too many does no harm, since
the task claims the row with a conditional update first.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import transaction

from tracking.models import Import, Workspace
from tracking.services.work import resend_stalled
from tracking.staging import discard, stage_upload


def create_import(
    *, workspace: Workspace, source_kind: str, source_path: str, source_name: str = "", enqueue: bool = True
) -> Import:
    """A QUEUED import of `source_path`; with `enqueue`, the task is sent once this commits.

    An archive uploaded to this server (under IMPORTS_DIR) is handed to whichever worker takes the
    import, on this machine or another (tracking/staging.py); a folder or archive named by path
    is read where it lies, on the worker's disk."""
    kept = source_path
    if source_kind == Import.ARCHIVE and Path(source_path).resolve().is_relative_to(
        Path(settings.IMPORTS_DIR).resolve()
    ):
        kept = stage_upload(Path(source_path), "imports")
    try:
        with transaction.atomic():
            row = Import.objects.create(
                workspace=workspace,
                source_kind=source_kind,
                source_path=kept,
                source_name=(source_name or source_path)[:500],
            )
            if enqueue:
                # robust: a broker that is down must not turn a created import into an error; the
                # sweeper sends the message later.
                transaction.on_commit(lambda: enqueue_import(row.pk), robust=True)
    except BaseException:
        if kept != source_path:
            discard(kept)
        raise
    return row


def enqueue_import(import_id: int) -> None:
    from tracking.tasks import import_mlruns

    Import.mark_enqueued(import_id)
    import_mlruns.delay(import_id)


def cancel_import(*, row: Import) -> bool:
    """Stops the import at its next chunk (what it wrote so far stays); False if it had ended."""
    return Import.cancel(row.pk)


def resend_stalled_imports() -> list[int]:
    """Sends a message for each import that should be moving and is not; returns their ids."""
    return resend_stalled(Import, enqueue_import)
