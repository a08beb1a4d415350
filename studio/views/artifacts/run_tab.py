"""The run's Artifacts tab: the run's own files and its logged models' in one browser, and deleting.

Each tab has three URLs: the page (`?path=` selects a file or folder), `raw` and `html` (see
`serving`).
"""

from __future__ import annotations

import posixpath

from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.views.decorators.http import require_GET, require_POST

from registry.models import ModelVersion
from studio.lookups import run_or_404
from studio.routing import requires, workspace_route
from studio.views.artifacts.browser import (
    ArtifactRoot,
    BadPath,
    bad_path,
    browse,
    build_tree,
    clean_relative,
    folder_of,
    list_folder,
)
from studio.views.artifacts.serving import serve_html, serve_raw
from tracking.access.permissions import Permission
from tracking.models import LoggedModel, Run, Workspace
from tracking.services.artifacts import delete_artifact

MAX_LOGGED_MODELS = 100
RUN_TABS = "studio/runs/_tabs.html"


def _run_roots(
    request: HttpRequest, workspace: Workspace, run: Run
) -> tuple[ArtifactRoot, ArtifactRoot, list]:
    """(the run's own root, the root the page shows, the run's logged models with their roots)."""
    run_root = ArtifactRoot(
        workspace,
        folder_of(run.artifact_uri),
        run.artifact_uri,
        "Run artifacts",
        load_uri=f"runs:/{run.uuid}",
        deletable=True,
    )
    models = list(
        LoggedModel.objects.filter(
            experiment__workspace=workspace, source_run_id=run.uuid, lifecycle_stage="active"
        ).order_by("created_at", "pk")[:MAX_LOGGED_MODELS]
    )
    logged = [(model, _logged_model_root(workspace, model)) for model in models]
    wanted = request.GET.get("model", "")
    if not wanted:
        return run_root, run_root, logged
    for model, root in logged:
        if model.model_id == wanted:
            return run_root, root, logged
    raise Http404(f"No logged model {wanted!r} for this run")


def _logged_model_root(workspace: Workspace, model: LoggedModel) -> ArtifactRoot:
    return ArtifactRoot(
        workspace,
        folder_of(model.artifact_location),
        model.artifact_location,
        model.name,
        query={"model": model.model_id},
        load_uri=f"models:/{model.model_id}",
        opens_on_mlmodel=True,
        indent=1,
    )


def _run_context(workspace: Workspace, run: Run) -> dict:
    try:
        get_template(RUN_TABS)
        tabs = RUN_TABS
    except TemplateDoesNotExist:
        tabs = "studio/artifacts/_run_tabs.html"
    return {
        "workspace": workspace,
        "area": "experiments",
        "run": run,
        "experiment": run.experiment,
        "tabs_template": tabs,
        "tab": "artifacts",
        "active_tab": "artifacts",
    }


@require_GET
def run_artifacts(request: HttpRequest, workspace: Workspace, run_id: str) -> HttpResponse:
    run = run_or_404(workspace, run_id)
    context = _run_context(workspace, run)
    base = request.path
    try:
        run_root, root, logged = _run_roots(request, workspace, run)
        browser = browse(request, root, base)
    except BadPath as error:
        return bad_path(request, error, context)
    sections = []
    for model, model_root in logged:
        current = model_root is root
        sections.append(
            {
                "model": model,
                "href": model_root.href(base),
                "current": current,
                "tree": browser["tree"] if current else None,
            }
        )
    run_tree = browser["tree"] if root is run_root else build_tree(run_root, "", base)
    return render(
        request,
        "studio/artifacts/run_artifacts.html",
        {
            **context,
            **browser,
            "run_tree": run_tree,
            "run_root": run_root,
            "logged_models": sections,
            "delete_href": f"{base}delete",
        },
    )


@require_GET
def run_artifact_raw(request: HttpRequest, workspace: Workspace, run_id: str) -> HttpResponse:
    run = run_or_404(workspace, run_id)
    try:
        _, root, _ = _run_roots(request, workspace, run)
        return serve_raw(request, root)
    except BadPath as error:
        return bad_path(request, error, _run_context(workspace, run))


@require_GET
def run_artifact_html(request: HttpRequest, workspace: Workspace, run_id: str) -> HttpResponse:
    run = run_or_404(workspace, run_id)
    try:
        _, root, _ = _run_roots(request, workspace, run)
        return serve_html(request, root)
    except BadPath as error:
        return bad_path(request, error, _run_context(workspace, run))


# Deleting is an Owner's right (docs/permissions.md), whatever the method's default.
@requires(Permission.OWNER)
@require_POST
def run_artifact_delete(request: HttpRequest, workspace: Workspace, run_id: str) -> HttpResponse:
    """Deletes a file or folder of the run's own artifacts once its name is typed back."""
    run = run_or_404(workspace, run_id)
    base = request.path.removesuffix("delete")
    try:
        path = clean_relative(request.POST.get("path", ""), file=True)
    except BadPath as error:
        return bad_path(request, error, _run_context(workspace, run))
    run_root = ArtifactRoot(workspace, folder_of(run.artifact_uri), run.artifact_uri, "Run artifacts")
    if run_root.folder is None or not _exists(run_root, path):
        raise Http404(f"No artifact {path!r}")
    back, name = run_root.href(base, path), posixpath.basename(path)
    if request.POST.get("confirm", "").strip() != name:
        messages.error(request, f"Nothing was deleted: type “{name}” exactly to confirm.")
        return redirect(back)
    users = _versions_using(workspace, f"{run.artifact_uri.rstrip('/')}/{path}")
    if users:
        listed = ", ".join(f"{model} version {version}" for model, version in users)
        messages.error(request, f"Nothing was deleted: registered model versions use these files ({listed}).")
        return redirect(back)
    delete_artifact(workspace=workspace, path=run_root.full(path))
    messages.success(request, f"Deleted {path}.")
    return redirect(run_root.href(base, posixpath.dirname(path)))


def _exists(root: ArtifactRoot, path: str) -> bool:
    return any(entry.path == path for entry in list_folder(root, posixpath.dirname(path)))


def _versions_using(workspace: Workspace, uri: str) -> list[tuple[str, int]]:
    """Registered versions whose files are `uri`, inside it, or contain it (MLflow 2 run folders)."""
    inside = Q(storage_location__startswith=f"{uri}/") | Q(storage_location__in=_ancestors(uri))
    versions = ModelVersion.objects.filter(inside, registered_model__workspace=workspace)
    ordered = versions.order_by("registered_model__name", "version")
    return list(ordered.values_list("registered_model__name", "version")[:5])


def _ancestors(uri: str) -> list[str]:
    parts = uri.rstrip("/").split("/")
    return ["/".join(parts[:index]) for index in range(1, len(parts) + 1)]


urlpatterns = [
    workspace_route("ws/<slug:workspace>/runs/<str:run_id>/artifacts/", run_artifacts, name="run-artifacts"),
    workspace_route(
        "ws/<slug:workspace>/runs/<str:run_id>/artifacts/raw", run_artifact_raw, name="run-artifact-raw"
    ),
    workspace_route(
        "ws/<slug:workspace>/runs/<str:run_id>/artifacts/html",
        run_artifact_html,
        name="run-artifact-html",
    ),
    workspace_route(
        "ws/<slug:workspace>/runs/<str:run_id>/artifacts/delete",
        run_artifact_delete,
        name="run-artifact-delete",
    ),
]
