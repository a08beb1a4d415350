"""Deletions for good (resource groups, workspaces, experiments, runs).

    POST /api/studio/v1/deletions        {"kind", "name", "workspace"?, "dry_run"?, "confirm"}: the
                                         plan (a dry run), or 202 and the deletion
    GET  /api/studio/v1/deletions/<id>   a deletion's status and progress

Who may delete what is decided before anything is looked up inside a workspace
(`tracking.deletion.access`), so a refusal tells an outsider nothing.
"""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.response import Response

from tracking.deletion.access import find_scope_for, visible_deletion
from tracking.deletion.plan import make_plan
from tracking.models import Deletion
from tracking.services.deletions import request_deletion

from .endpoints import StudioEndpoint, created
from .workspaces import MAX_NAME, principal_of

KINDS = [kind for kind, _ in Deletion.KINDS]


def deletion_json(row: Deletion) -> dict:
    return {
        "id": row.pk,
        "kind": row.kind,
        "target": row.target_name,
        "workspace": row.workspace_name,
        "resource_group": row.resource_group_name,
        "status": row.status,
        "stage": row.stage,
        "done": row.done,
        "total": row.total,
        "error": row.error,
        "plan": row.plan,
        "counts": row.counts,
        "requested_by": row.requested_by,
        "created_at": row.created_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }


class KindField(serializers.ChoiceField):
    """The kind, spelled with dashes or underscores ("resource-group")."""

    def to_internal_value(self, data):
        return super().to_internal_value(data.replace("-", "_") if isinstance(data, str) else data)


class DeletionRequest(serializers.Serializer):
    kind = KindField(choices=KINDS)
    name = serializers.CharField(max_length=500)
    workspace = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=MAX_NAME)
    dry_run = serializers.BooleanField(required=False, default=False)
    confirm = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class Deletions(StudioEndpoint):
    def post(self, request) -> Response:
        principal = principal_of(request)
        fields = self.valid(DeletionRequest, request.data)
        scope = find_scope_for(principal, fields["kind"], fields["name"], fields.get("workspace") or None)
        if fields["dry_run"]:
            return Response({"plan": make_plan(scope)})
        row = request_deletion(scope, confirmation=fields["confirm"], requested_by=principal.username)
        return created(deletion_json(row), f"{request.path}/{row.pk}", status=202)


class DeletionDetail(StudioEndpoint):
    def get(self, request, deletion_id: int) -> Response:
        return Response(deletion_json(visible_deletion(principal_of(request), deletion_id)))
