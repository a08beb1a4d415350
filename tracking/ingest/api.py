"""The studio's import endpoints (Django REST framework), beside the MLflow API.

    POST /api/studio/v1/workspaces/<name>/imports        an archive (.zip, .tar.gz): 202 and the import
    GET  /api/studio/v1/workspaces/<name>/imports/<id>   the import: status, progress, report

The archive comes as multipart form data (field "file") or as the raw body (any application/*
type; `?name=` names it). Either way it is streamed to a file under IMPORTS_DIR, a megabyte at a
time, and refused past IMPORT_MAX_ARCHIVE_BYTES; it is never held in memory. Errors answer with
MLflow's `{"error_code", "message"}`, written by the tracking API's one error function.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from rest_framework import serializers
from rest_framework.response import Response

from tracking.errors import InvalidParameterValue, RequestTooLarge
from tracking.models import Import
from tracking.queries.imports import get_import
from tracking.services.imports import create_import
from tracking.studio_api import StudioApiView
from tracking.uploads import Upload, UploadKind, parsers_for
from tracking.workspaces import resolve_workspace


def too_large() -> RequestTooLarge:
    return RequestTooLarge(
        f"The archive is larger than {settings.IMPORT_MAX_ARCHIVE_BYTES} bytes (STUDIO_IMPORT_MAX_ARCHIVE_BYTES)."
    )


ARCHIVE = UploadKind(
    what="archive",
    suffix=".archive",
    default_name="archive",
    folder=lambda: Path(settings.IMPORTS_DIR) / "uploads",
    limit=lambda: settings.IMPORT_MAX_ARCHIVE_BYTES,
    too_large=too_large,
    media_types=(
        "application/zip",
        "application/x-zip-compressed",
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-gtar",
        "application/x-compressed-tar",
    ),
)


class ImportSerializer(serializers.ModelSerializer):
    workspace = serializers.CharField(source="workspace.name")

    class Meta:
        model = Import
        fields = [
            "id",
            "workspace",
            "status",
            "stage",
            "done",
            "total",
            "error",
            "source_kind",
            "source_name",
            "counts",
            "problems",
            "problem_count",
            "experiment_numbers",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
        ]


class Imports(StudioApiView):
    parser_classes = parsers_for(ARCHIVE)

    def post(self, request, workspace_name: str) -> Response:
        workspace = resolve_workspace(workspace_name)
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > settings.IMPORT_MAX_ARCHIVE_BYTES + 64 * 1024:  # room for multipart headers
            raise too_large()
        upload = request.data.get("file")
        if not isinstance(upload, Upload):
            raise InvalidParameterValue("Send the archive as the body, or as the multipart field 'file'.")
        try:
            row = create_import(
                workspace=workspace,
                source_kind=Import.ARCHIVE,
                source_path=str(upload.path),
                source_name=upload.name,
            )
        except BaseException:
            upload.path.unlink(missing_ok=True)
            raise
        headers = {"Location": f"{request.path.rstrip('/')}/{row.pk}"}
        return Response(ImportSerializer(row).data, status=202, headers=headers)


class ImportDetail(StudioApiView):
    def get(self, request, workspace_name: str, import_id: int) -> Response:
        row = get_import(resolve_workspace(workspace_name), import_id)
        return Response(ImportSerializer(row).data)
