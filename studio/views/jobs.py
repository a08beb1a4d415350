"""Studio pages: a workspace's jobs with the submission form, one job with its live output, and
the job's Snapshot (its source files, in the artifact browser every Artifacts tab uses).

The snapshot is streamed to a file under JOBS_DIR by the job API's upload handler, never held
in memory. As on the imports page, the upload view is exempt from the CSRF middleware (which
would read the body before the handler is set) and checks the token itself, after setting it.

A job's page shows the row as it is; while the job is active a small script reads the output
endpoint from the last offset it has, appends what is new, and updates the status, and reloads
the page once the job has ended.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from studio import upload_forms
from studio.lookups import job_or_404
from studio.pages import elapsed
from studio.routing import workspace_route
from studio.views.artifacts import ArtifactRoot, BadPath, bad_path, browse, serve_html, serve_raw
from tracking.errors import InvalidParameterValue, MlflowError
from tracking.jobs.sandbox import sandbox_status
from tracking.models import Experiment, Job, Workspace
from tracking.queries.compute import live_targets, target_summaries, waiting_reason
from tracking.queries.jobs import list_jobs, read_output
from tracking.services.jobs import cancel_job, resolve_experiment, snapshot_folder, submit_job
from tracking.uploads import SNAPSHOT, Upload

LISTED = 100
UPLOAD_FIELD = "file"


def _duration(job: Job) -> str:
    return elapsed(job.started_at, job.finished_at or job.heartbeat_at, running=False)


# --- The list and the form ---------------------------------------------------------------------


@csrf_exempt
@require_http_methods(["GET", "POST"])
def job_list(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    if request.method == "GET":
        return _list_page(request, workspace)
    return upload_forms.receive(
        request,
        SNAPSHOT,
        headroom=256 * 1024,  # the form's other fields
        accept=lambda: _submit_page(request, workspace),
        refuse=lambda message, status: _list_page(request, workspace, error=message, status=status),
    )


@csrf_protect
def _submit_page(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    try:
        job = _submit(request, workspace)
    except MlflowError as refused:
        return _list_page(request, workspace, error=refused.message, status=refused.http_status)
    return HttpResponseRedirect(reverse("job", args=[workspace.name, job.pk]), status=303)


def _parameters(text: str) -> dict[str, str]:
    """`name=value` lines (or separated by spaces) of an MLflow project's parameters."""
    parameters = {}
    for item in text.split():
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidParameterValue(f"Write parameters as name=value; {item!r} is not.")
        parameters[name] = value
    return parameters


def _submit(request: HttpRequest, workspace: Workspace) -> Job:
    uploads = [file for _, files in request.FILES.lists() for file in files if isinstance(file, Upload)]
    snapshot = next((file for file in request.FILES.getlist(UPLOAD_FIELD) if isinstance(file, Upload)), None)
    for extra in uploads:
        if extra is not snapshot:
            extra.path.unlink(missing_ok=True)
    if snapshot is None or snapshot.size == 0:
        if snapshot is not None:
            snapshot.path.unlink(missing_ok=True)
        raise InvalidParameterValue("Choose a .zip of the source folder to upload.")
    form = request.POST
    use_project = form.get("kind") == "project"
    try:
        limit = form.get("time_limit_minutes", "").strip()
        experiment = resolve_experiment(
            workspace=workspace, experiment_name=form.get("experiment_name", "").strip()
        )
        return submit_job(
            workspace=workspace,
            experiment=experiment,
            snapshot=snapshot.path,
            source_name=snapshot.name,
            command="" if use_project else form.get("command", ""),
            entry_point=(form.get("entry_point", "").strip() or "main") if use_project else "",
            parameters=_parameters(form.get("parameters", "")) if use_project else {},
            time_limit_seconds=int(float(limit) * 60) if limit else None,
            run_name=form.get("run_name", "").strip(),
            user_id=getattr(getattr(request, "principal", None), "username", "") or "",
            compute_target=form.get("compute", "").strip(),
        )
    except (ValueError, OverflowError):
        snapshot.path.unlink(missing_ok=True)
        raise InvalidParameterValue("The time limit must be a number of minutes.") from None
    except BaseException:
        snapshot.path.unlink(missing_ok=True)
        raise


def _list_page(
    request: HttpRequest, workspace: Workspace, *, error: str = "", status: int = 200
) -> HttpResponse:
    jobs = list(list_jobs(workspace, limit=LISTED))
    targets = target_summaries(workspace)
    live = {summary.target.name for summary in targets if summary.workers}
    for job in jobs:
        job.duration = _duration(job)
        job.waiting_for = waiting_reason(job, live)
    experiments = list(
        Experiment.objects.filter(workspace=workspace, lifecycle_stage="active")
        .order_by("name")
        .values_list("name", flat=True)[:500]
    )
    return render(
        request,
        "studio/jobs/list.html",
        {
            "workspace": workspace,
            "area": "jobs",
            "jobs": jobs,
            "experiments": experiments,
            "error": error,
            "form": request.POST if request.method == "POST" else {},
            "max_bytes": settings.JOB_MAX_SNAPSHOT_BYTES,
            "default_limit_minutes": settings.JOB_TIME_LIMIT_SECONDS // 60,
            "sandbox": sandbox_status(),
            "targets": targets,
        },
        status=status,
    )


# --- One job -----------------------------------------------------------------------------------


def _job_context(workspace: Workspace, job: Job, tab: str) -> dict:
    return {"workspace": workspace, "area": "jobs", "job": job, "tab": tab, "duration": _duration(job)}


@require_GET
def job_detail(request: HttpRequest, workspace: Workspace, job_id: int) -> HttpResponse:
    job = job_or_404(workspace, job_id)
    output, size = read_output(job, 0)
    context = _job_context(workspace, job, "overview")
    context.update(
        waiting_for=waiting_reason(job, live_targets()),
        output=output.decode("utf-8", "replace"),
        output_offset=len(output),
        output_more=len(output) < size,
        output_url=f"/api/studio/v1/workspaces/{workspace.name}/jobs/{job.pk}/output",
    )
    return render(request, "studio/jobs/detail.html", context)


@require_POST
def job_cancel(request: HttpRequest, workspace: Workspace, job_id: int) -> HttpResponse:
    cancel_job(job=job_or_404(workspace, job_id))
    return HttpResponseRedirect(reverse("job", args=[workspace.name, job_id]), status=303)


# --- The snapshot --------------------------------------------------------------------------------


def _snapshot_root(workspace: Workspace, job: Job) -> ArtifactRoot:
    return ArtifactRoot(workspace, snapshot_folder(job), "", f"Snapshot of job {job.pk}")


@require_GET
def job_snapshot(request: HttpRequest, workspace: Workspace, job_id: int) -> HttpResponse:
    job = job_or_404(workspace, job_id)
    context = _job_context(workspace, job, "snapshot")
    if not job.snapshot_files:
        return render(request, "studio/jobs/snapshot.html", context)
    try:
        context.update(browse(request, _snapshot_root(workspace, job), request.path))
    except BadPath as error:
        return bad_path(request, error, context)
    return render(request, "studio/jobs/snapshot.html", context)


@require_GET
def job_snapshot_raw(request: HttpRequest, workspace: Workspace, job_id: int) -> HttpResponse:
    job = job_or_404(workspace, job_id)
    try:
        return serve_raw(request, _snapshot_root(workspace, job))
    except BadPath as error:
        return bad_path(request, error, _job_context(workspace, job, "snapshot"))


@require_GET
def job_snapshot_html(request: HttpRequest, workspace: Workspace, job_id: int) -> HttpResponse:
    job = job_or_404(workspace, job_id)
    try:
        return serve_html(request, _snapshot_root(workspace, job))
    except BadPath as error:
        return bad_path(request, error, _job_context(workspace, job, "snapshot"))


_JOB = "ws/<slug:workspace>/jobs/<id:job_id>/"

urlpatterns = [
    workspace_route("ws/<slug:workspace>/jobs/", job_list, name="jobs"),
    workspace_route(_JOB, job_detail, name="job"),
    workspace_route(f"{_JOB}cancel", job_cancel, name="job-cancel"),
    workspace_route(f"{_JOB}snapshot/", job_snapshot, name="job-snapshot"),
    workspace_route(f"{_JOB}snapshot/raw", job_snapshot_raw, name="job-snapshot-raw"),
    workspace_route(f"{_JOB}snapshot/html", job_snapshot_html, name="job-snapshot-html"),
]
