"""Studio pages: deleting a resource group, a workspace, an experiment, a run or a metric for good.

Each deletion shows its dry run first (what will go, how many bytes) and asks for the target's
name to be typed back, as Azure's portal does for a resource group. A POST creates the deletion
(the row, then a Celery task) and leads to its progress page; a GET never deletes anything.
"""

from __future__ import annotations

import orjson
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from studio.lookups import experiment_or_404, run_or_404
from studio.routing import requires, signed_in_route, workspace_route
from tracking.access.permissions import Permission
from tracking.deletion.access import authorize_deletion, visible_deletion
from tracking.deletion.plan import LABELS, make_plan
from tracking.deletion.scope import Scope
from tracking.errors import InvalidParameterValue, MlflowError, PermissionDenied, ResourceDoesNotExist
from tracking.models import Deletion, MetricSummary, ResourceGroup, Workspace
from tracking.services.deletions import active_deletion, request_deletion
from tracking.services.metric_points import delete_metric

_WORDS = {
    Deletion.RESOURCE_GROUP: "resource group",
    Deletion.WORKSPACE: "workspace",
    Deletion.EXPERIMENT: "experiment",
    Deletion.RUN: "run",
}


def _requester(request: HttpRequest) -> str:
    principal = getattr(request, "principal", None)
    return principal.username if principal is not None else ""


def _plan_rows(plan: dict, done: dict | None = None) -> list[dict]:
    done = done or {}
    return [
        {"key": key, "label": label, "planned": plan.get(key, 0), "done": done.get(key, 0)}
        for key, label in LABELS.items()
        if plan.get(key) or done.get(key)
    ]


def _confirm(request: HttpRequest, scope: Scope, *, workspace: Workspace | None, back: str) -> HttpResponse:
    """The dry run and the typed confirmation; on a good POST, the deletion and its progress page."""
    if refusal := _authorized_or_refusal(request, scope):
        return refusal
    error = ""
    if request.method == "POST":
        try:
            row = request_deletion(
                scope, confirmation=request.POST.get("confirm", ""), requested_by=_requester(request)
            )
        except InvalidParameterValue as refused:
            error = refused.message
        else:
            return redirect("deletion", pk=row.pk)
    plan = make_plan(scope)
    context = {
        "workspace": workspace,
        "area": "experiments" if scope.kind in (Deletion.EXPERIMENT, Deletion.RUN) else None,
        "kind": _WORDS[scope.kind],
        "name": scope.name,
        "label": getattr(scope.target, "name", "") or scope.name,
        "rows": _plan_rows(plan),
        "blockers": plan["blockers"],
        "running": active_deletion(scope.kind, scope.target.pk),
        "error": error,
        "back": back,
    }
    return render(request, "studio/deletions/confirm.html", context, status=400 if error else 200)


def _authorized_or_refusal(request: HttpRequest, scope: Scope) -> HttpResponse | None:
    try:
        authorize_deletion(request.principal, scope)
    except PermissionDenied as refused:
        return render(request, "studio/accounts/403.html", {"message": refused.message}, status=403)
    except MlflowError as hidden:
        raise Http404(hidden.message) from None
    return None


@require_http_methods(["GET", "POST"])
def delete_resource_group(request: HttpRequest, name: str) -> HttpResponse:
    group = get_object_or_404(ResourceGroup, name=name)
    scope = Scope(Deletion.RESOURCE_GROUP, group, list(group.workspaces.order_by("pk")))
    return _confirm(request, scope, workspace=None, back=reverse("home"))


@requires(Permission.OWNER)
@require_http_methods(["GET", "POST"])
def delete_workspace(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    return _confirm(
        request,
        Scope(Deletion.WORKSPACE, workspace, [workspace]),
        workspace=workspace,
        back=f"/ws/{workspace.name}/",
    )


@requires(Permission.OWNER)
@require_http_methods(["GET", "POST"])
def delete_experiment(request: HttpRequest, workspace: Workspace, experiment_id: str) -> HttpResponse:
    experiment = experiment_or_404(workspace, experiment_id)
    back = reverse(
        "experiment", kwargs={"workspace": workspace.name, "experiment_id": experiment.experiment_id}
    )
    return _confirm(
        request, Scope(Deletion.EXPERIMENT, experiment, [workspace]), workspace=workspace, back=back
    )


@requires(Permission.DELETE_OWN)
@require_http_methods(["GET", "POST"])
def delete_run(request: HttpRequest, workspace: Workspace, run_id: str) -> HttpResponse:
    run = run_or_404(workspace, run_id)
    back = reverse("run", kwargs={"workspace": workspace.name, "run_id": run.uuid})
    return _confirm(request, Scope(Deletion.RUN, run, [workspace]), workspace=workspace, back=back)


@requires(Permission.DELETE_OWN)
@require_http_methods(["GET", "POST"])
def delete_metric_key(request: HttpRequest, workspace: Workspace, run_id: str) -> HttpResponse:
    """One metric of a run, every point of it: small enough to delete while the page waits."""
    run = run_or_404(workspace, run_id)
    if refusal := _authorized_or_refusal(request, Scope(Deletion.RUN, run, [workspace])):
        return refusal
    key = request.POST.get("key") or request.GET.get("key", "")
    summary = MetricSummary.objects.filter(run_id=run.pk, key=key).only("count").first()
    if summary is None:
        raise Http404(f"No metric {key!r} in this run")
    error = ""
    if request.method == "POST":
        if request.POST.get("confirm", "").strip() != key:
            error = f"Type the metric's name {key!r} exactly to confirm the deletion."
        else:
            removed = delete_metric(run.pk, key)
            messages.success(request, f"Deleted the metric {key} ({removed:,} points).")
            return redirect("run-metrics", workspace=workspace.name, run_id=run.uuid)
    context = {
        "workspace": workspace,
        "area": "experiments",
        "kind": "metric",
        "name": key,
        "label": key,
        "rows": [{"key": "metric_points", "label": "metric points", "planned": summary.count, "done": 0}],
        "blockers": [],
        "running": None,
        "error": error,
        "back": reverse("run-metrics", kwargs={"workspace": workspace.name, "run_id": run.uuid}),
        "extra_fields": {"key": key},
    }
    return render(request, "studio/deletions/confirm.html", context, status=400 if error else 200)


# --- Progress --------------------------------------------------------------------------------


def _progress(row: Deletion) -> dict:
    return {
        "id": row.pk,
        "status": row.status,
        "stage": row.stage,
        "done": row.done,
        "total": row.total,
        "error": row.error,
        "rows": _plan_rows(row.plan, row.counts),
        "finished": not row.is_active,
    }


def _visible_deletion(request: HttpRequest, pk: int) -> Deletion:
    try:
        return visible_deletion(request.principal, pk)
    except ResourceDoesNotExist as missing:
        raise Http404(missing.message) from None


@require_GET
def deletion(request: HttpRequest, pk: int) -> HttpResponse:
    row = _visible_deletion(request, pk)
    workspace = Workspace.objects.filter(name=row.workspace_name).select_related("resource_group").first()
    context = {
        "row": row,
        "kind": _WORDS[row.kind],
        "progress": _progress(row),
        "workspace": workspace if row.kind in (Deletion.EXPERIMENT, Deletion.RUN) else None,
        "area": "experiments",
    }
    return render(request, "studio/deletions/progress.html", context)


@require_GET
def deletion_progress(request: HttpRequest, pk: int) -> HttpResponse:
    row = _visible_deletion(request, pk)
    return HttpResponse(orjson.dumps(_progress(row)), content_type="application/json")


urlpatterns = [
    signed_in_route(
        "resource-groups/<slug:name>/delete/", delete_resource_group, name="delete-resource-group"
    ),
    workspace_route("ws/<slug:workspace>/delete/", delete_workspace, name="delete-workspace"),
    workspace_route(
        "ws/<slug:workspace>/experiments/<str:experiment_id>/delete/",
        delete_experiment,
        name="delete-experiment",
    ),
    workspace_route("ws/<slug:workspace>/runs/<str:run_id>/delete/", delete_run, name="delete-run"),
    workspace_route(
        "ws/<slug:workspace>/runs/<str:run_id>/metrics/delete/", delete_metric_key, name="delete-metric"
    ),
    signed_in_route("deletions/<id:pk>/", deletion, name="deletion"),
    signed_in_route("deletions/<id:pk>/progress", deletion_progress, name="deletion-progress"),
]
