"""Imports of MLflow file stores.

    POST /api/studio/v1/workspaces/<ws>/imports        an archive (.zip, .tar.gz): 202 and the import
    GET  /api/studio/v1/workspaces/<ws>/imports/<id>   the import: status, progress, report

The archive comes as multipart form data (field "file") or as the raw body (any application/*
type of an archive; `?name=` names it). Either way it is streamed to a file under IMPORTS_DIR, a
megabyte at a time, and refused past IMPORT_MAX_ARCHIVE_BYTES; it is never held in memory.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers
from rest_framework.response import Response

from tracking.errors import InvalidParameterValue
from tracking.models import Import, Workspace
from tracking.queries.imports import get_import
from tracking.services.imports import create_import
from tracking.uploads import ARCHIVE, Upload

from .endpoints import StudioEndpoint, created
from .uploads import parsers_for


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


class Imports(StudioEndpoint):
    parser_classes = parsers_for(ARCHIVE)

    def post(self, request, workspace: Workspace) -> Response:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > settings.IMPORT_MAX_ARCHIVE_BYTES + 64 * 1024:  # room for multipart headers
            raise ARCHIVE.too_large()
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
        return created(ImportSerializer(row).data, f"{request.path.rstrip('/')}/{row.pk}", status=202)


class ImportDetail(StudioEndpoint):
    def get(self, request, workspace: Workspace, import_id: int) -> Response:
        return Response(ImportSerializer(get_import(workspace, import_id)).data)
