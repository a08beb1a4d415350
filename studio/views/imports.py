"""Studio pages: a workspace's imports of MLflow file stores, the upload form, and one import.

The upload is streamed to a file under IMPORTS_DIR by the same handler as the HTTP endpoint's
(`tracking.uploads.StreamedUploadHandler`), never held in memory. Upload handlers must be
chosen before anything reads the body, and the CSRF middleware reads it to find the token; so
the upload view is exempt from the middleware and checks the token itself (`csrf_protect`),
after setting its handler, as Django's documentation prescribes.

An import's page shows the row as it is; while the import is active a small script polls the
JSON of `/api/studio/v1/workspaces/<name>/imports/<id>` and moves the progress bar, and reloads
the page once the import has ended to show the whole report.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from studio import upload_forms
from studio.lookups import import_or_404
from studio.pages import page_number
from studio.routing import workspace_route
from tracking.errors import InvalidParameterValue, MlflowError
from tracking.ingest.report import ordered_counts
from tracking.models import Import, Workspace
from tracking.queries.imports import list_imports
from tracking.services.imports import cancel_import, create_import
from tracking.uploads import ARCHIVE, Upload

PAGE_SIZE = 50
UPLOAD_FIELD = "file"


def _share(row: Import) -> int | None:
    """Per cent done, or None while the total is unknown."""
    if not row.total:
        return 100 if row.status == "SUCCEEDED" else None
    return min(100, int(100 * row.done / row.total))


def _written(row: Import, kind: str) -> tuple[int, int]:
    entry = row.counts.get(kind) or {}
    return entry.get("read", 0), entry.get("written", 0)


# --- Pages -------------------------------------------------------------------------------------


@csrf_exempt
@require_http_methods(["GET", "POST"])
def import_list(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    if request.method == "GET":
        return _list_page(request, workspace)
    return upload_forms.receive(
        request,
        ARCHIVE,
        headroom=64 * 1024,
        accept=lambda: _upload_page(request, workspace),
        refuse=lambda message, status: _list_page(request, workspace, error=message, status=status),
    )


@csrf_protect
def _upload_page(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    try:
        row = _upload(request, workspace)
    except MlflowError as refused:
        return _list_page(request, workspace, error=refused.message, status=refused.http_status)
    return HttpResponseRedirect(reverse("import", args=[workspace.name, row.pk]), status=303)


def _list_page(
    request: HttpRequest, workspace: Workspace, *, error: str = "", status: int = 200
) -> HttpResponse:
    page = page_number(request)
    rows = list_imports(workspace, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1)
    for row in rows:
        row.share = _share(row)
        row.runs = _written(row, "runs")
        row.metrics = _written(row, "metrics")
    return render(
        request,
        "studio/imports/list.html",
        {
            "workspace": workspace,
            "area": "imports",
            "imports": rows[:PAGE_SIZE],
            "page": page,
            "has_next": len(rows) > PAGE_SIZE,
            "error": error,
            "max_bytes": settings.IMPORT_MAX_ARCHIVE_BYTES,
        },
        status=status,
    )


def _upload(request: HttpRequest, workspace: Workspace) -> Import:
    """The import of the uploaded archive; uploads other than the archive's field are removed."""
    uploads = [
        (name, file) for name, files in request.FILES.lists() for file in files if isinstance(file, Upload)
    ]
    archive = next((file for name, file in uploads if name == UPLOAD_FIELD), None)
    for _, extra in uploads:
        if extra is not archive:
            extra.path.unlink(missing_ok=True)
    if archive is None or archive.size == 0:
        if archive is not None:
            archive.path.unlink(missing_ok=True)
        raise InvalidParameterValue("Choose an archive (.zip or .tar.gz) of an mlruns/ folder to upload.")
    try:
        return create_import(
            workspace=workspace,
            source_kind=Import.ARCHIVE,
            source_path=str(archive.path),
            source_name=archive.name,
        )
    except BaseException:
        archive.path.unlink(missing_ok=True)
        raise


@require_http_methods(["GET"])
def import_detail(request: HttpRequest, workspace: Workspace, import_id: int) -> HttpResponse:
    row = import_or_404(workspace, import_id)
    renumbered = [(old, new) for old, new in row.experiment_numbers.items() if str(old) != str(new)]
    return render(
        request,
        "studio/imports/detail.html",
        {
            "workspace": workspace,
            "area": "imports",
            "row": row,
            "share": _share(row),
            "counts": ordered_counts(row.counts),
            "renumbered": renumbered,
            "hidden_problems": max(row.problem_count - len(row.problems), 0),
            "status_url": f"/api/studio/v1/workspaces/{workspace.name}/imports/{row.pk}",
        },
    )


@require_POST
def import_cancel(request: HttpRequest, workspace: Workspace, import_id: int) -> HttpResponse:
    row = import_or_404(workspace, import_id)
    cancel_import(row=row)
    return HttpResponseRedirect(reverse("import", args=[workspace.name, row.pk]), status=303)


urlpatterns = [
    workspace_route("ws/<slug:workspace>/imports/", import_list, name="imports"),
    workspace_route("ws/<slug:workspace>/imports/<id:import_id>/", import_detail, name="import"),
    workspace_route("ws/<slug:workspace>/imports/<id:import_id>/cancel", import_cancel, name="import-cancel"),
]
