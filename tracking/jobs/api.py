"""The studio's job endpoints (Django REST framework), beside the import endpoints.

    POST /api/studio/v1/workspaces/<name>/jobs                  submit: a zip and what to run; 202
    GET  /api/studio/v1/workspaces/<name>/jobs                  the latest jobs
    GET  /api/studio/v1/workspaces/<name>/jobs/<id>             one job: status, progress, exit code
    POST /api/studio/v1/workspaces/<name>/jobs/<id>/cancel      stop it; its run becomes KILLED
    GET  /api/studio/v1/workspaces/<name>/jobs/<id>/output      its output from ?offset= (bytes)

A submission is multipart form data (the zip as field "file"; "command" or "entry_point" with
"parameters" as a JSON object; "experiment_id" or "experiment_name"; optional "run_name",
"time_limit_seconds", "user", "environment" as a JSON object {"name", "kind": pip|conda|python_env,
"spec": the file's text}), or the zip as the raw body with those fields in the query string.
The zip is streamed to a file under JOBS_DIR, as an import's archive is (the same sink, with the
snapshot's limit), never held in memory.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.db import transaction
from rest_framework import serializers
from rest_framework.response import Response

from tracking.errors import InvalidParameterValue, RequestTooLarge
from tracking.models import Job
from tracking.queries.jobs import get_job, list_jobs, read_output
from tracking.services.jobs import cancel_job, resolve_experiment, submit_job
from tracking.studio_api import StudioApiView
from tracking.uploads import Upload, UploadKind, parsers_for
from tracking.workspaces import resolve_workspace

MAX_LISTED = 100


def snapshot_too_large() -> RequestTooLarge:
    return RequestTooLarge(
        f"The snapshot is larger than {settings.JOB_MAX_SNAPSHOT_BYTES} bytes (STUDIO_JOB_MAX_SNAPSHOT_BYTES). "
        "Leave data and outputs out of the folder (a .gitignore is honoured when zipping)."
    )


SNAPSHOT = UploadKind(
    what="snapshot (a .zip)",
    suffix=".zip",
    default_name="snapshot.zip",
    folder=lambda: Path(settings.JOBS_DIR) / "uploads",
    limit=lambda: settings.JOB_MAX_SNAPSHOT_BYTES,
    too_large=snapshot_too_large,
    media_types=("application/zip", "application/x-zip-compressed"),
)


def _principal_name(request) -> str:
    principal = getattr(request._request, "principal", None)
    return principal.username if principal is not None and principal.username else ""


class JobSerializer(serializers.ModelSerializer):
    workspace = serializers.CharField(source="workspace.name")
    experiment_id = serializers.SerializerMethodField()
    run_id = serializers.SerializerMethodField()
    run_status = serializers.SerializerMethodField()
    time_limit_seconds = serializers.IntegerField(source="time_limit")

    class Meta:
        model = Job
        fields = [
            "id",
            "workspace",
            "experiment_id",
            "run_id",
            "run_status",
            "status",
            "stage",
            "done",
            "error",
            "kind",
            "command",
            "entry_point",
            "parameters",
            "source_name",
            "snapshot_bytes",
            "snapshot_files",
            "time_limit_seconds",
            "exit_code",
            "output_bytes",
            "output_dropped",
            "submitted_by",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
        ]

    def get_experiment_id(self, job: Job) -> str:
        return str(job.experiment.number)

    def get_run_id(self, job: Job) -> str | None:
        return job.run.uuid if job.run else None

    def get_run_status(self, job: Job) -> str | None:
        return job.run.status if job.run else None


def _field(request, name: str) -> str:
    value = request.data.get(name) if hasattr(request.data, "get") else None
    if value is None:
        value = request.query_params.get(name, "")
    if not isinstance(value, str):
        raise InvalidParameterValue(f"'{name}' must be text.")
    return value.strip()


def _parameters(request) -> dict:
    raw = _field(request, "parameters")
    if not raw:
        return {}
    try:
        parameters = json.loads(raw)
    except ValueError:
        raise InvalidParameterValue("'parameters' must be a JSON object, e.g. {\"alpha\": 0.5}.") from None
    if not isinstance(parameters, dict):
        raise InvalidParameterValue("'parameters' must be a JSON object, e.g. {\"alpha\": 0.5}.")
    return parameters


def _environment(request) -> dict | None:
    raw = _field(request, "environment")
    if not raw:
        return None
    try:
        environment = json.loads(raw)
    except ValueError:
        raise InvalidParameterValue(
            '\'environment\' must be a JSON object: {"name", "kind", "spec"}.'
        ) from None
    return environment


def _time_limit(request) -> int | None:
    raw = _field(request, "time_limit_seconds")
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidParameterValue("'time_limit_seconds' must be a whole number of seconds.") from None


class Jobs(StudioApiView):
    parser_classes = parsers_for(SNAPSHOT)

    def get(self, request, workspace_name: str) -> Response:
        jobs = list_jobs(resolve_workspace(workspace_name), limit=MAX_LISTED)
        return Response({"jobs": JobSerializer(jobs, many=True).data})

    def post(self, request, workspace_name: str) -> Response:
        workspace = resolve_workspace(workspace_name)
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > settings.JOB_MAX_SNAPSHOT_BYTES + 256 * 1024:  # room for the form's other fields
            raise snapshot_too_large()
        upload = request.data.get("file")
        if not isinstance(upload, Upload):
            raise InvalidParameterValue(
                "Send the snapshot (a .zip) as the body, or as the multipart field 'file'."
            )
        try:
            with transaction.atomic():
                experiment = resolve_experiment(
                    workspace=workspace,
                    experiment_id=_field(request, "experiment_id"),
                    experiment_name=_field(request, "experiment_name"),
                )
                job = submit_job(
                    workspace=workspace,
                    experiment=experiment,
                    snapshot=upload.path,
                    source_name=_field(request, "source_name") or upload.name,
                    command=_field(request, "command"),
                    entry_point=_field(request, "entry_point"),
                    parameters=_parameters(request),
                    time_limit_seconds=_time_limit(request),
                    environment=_environment(request),
                    run_name=_field(request, "run_name"),
                    # Who is asking, as the access check saw them (a token's owner); in local mode,
                    # with no one signed in, what the client says.
                    user_id=_principal_name(request) or _field(request, "user"),
                )
        except BaseException:
            upload.path.unlink(missing_ok=True)
            raise
        headers = {"Location": f"{request.path.rstrip('/')}/{job.pk}"}
        return Response(JobSerializer(job).data, status=202, headers=headers)


class JobDetail(StudioApiView):
    def get(self, request, workspace_name: str, job_id: int) -> Response:
        job = get_job(resolve_workspace(workspace_name), job_id)
        return Response(JobSerializer(job).data)


class JobCancel(StudioApiView):
    def post(self, request, workspace_name: str, job_id: int) -> Response:
        job = get_job(resolve_workspace(workspace_name), job_id)
        cancel_job(job=job)
        return Response(JobSerializer(get_job(job.workspace, job.pk)).data)


class JobOutput(StudioApiView):
    def get(self, request, workspace_name: str, job_id: int) -> Response:
        job = get_job(resolve_workspace(workspace_name), job_id)
        try:
            offset = max(int(request.query_params.get("offset", "0")), 0)
        except ValueError:
            raise InvalidParameterValue("'offset' must be a whole number of bytes.") from None
        data, size = read_output(job, offset)
        return Response(
            {
                "offset": offset,
                "next_offset": offset + len(data),
                "size": size,
                "text": data.decode("utf-8", "replace"),
                "status": job.status,
                "stage": job.stage,
                "done": job.done,
                "run_status": job.run.status if job.run else None,
                "ended": not job.is_active,
            }
        )
