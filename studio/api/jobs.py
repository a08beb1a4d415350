"""Jobs (remote runs).

    POST /api/studio/v1/workspaces/<ws>/jobs                  submit: a zip and what to run; 202
    GET  /api/studio/v1/workspaces/<ws>/jobs                  the latest jobs
    GET  /api/studio/v1/workspaces/<ws>/jobs/<id>             one job: status, progress, exit code
    POST /api/studio/v1/workspaces/<ws>/jobs/<id>/cancel      stop it; its run becomes KILLED
    GET  /api/studio/v1/workspaces/<ws>/jobs/<id>/output      its output from ?offset= (bytes)

A submission is multipart form data (the zip as field "file"; "command" or "entry_point" with
"parameters" as a JSON object; "experiment_id" or "experiment_name"; optional "run_name",
"time_limit_seconds", "user", "environment" as a JSON object {"name", "kind": pip|conda|python_env,
"spec": the file's text}, "compute" naming the compute target), or the zip as the raw body with
those fields in the query string.
The zip is streamed to a file under JOBS_DIR, as an import's archive is (the same sink, with the
snapshot's limit), never held in memory.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from rest_framework import serializers
from rest_framework.response import Response

from tracking.errors import InvalidParameterValue
from tracking.models import Job, Workspace
from tracking.queries.compute import live_targets, waiting_reason
from tracking.queries.jobs import get_job, list_jobs, read_output
from tracking.services.jobs import MAX_COMMAND_LENGTH, cancel_job, resolve_experiment, submit_job
from tracking.uploads import SNAPSHOT, Upload

from .endpoints import StudioEndpoint, created
from .uploads import parsers_for

MAX_LISTED = 100
MAX_PARAMETERS_BYTES = 64 * 1024
MAX_ENVIRONMENT_BYTES = 256 * 1024
MAX_OFFSET = 2**62


class JobSerializer(serializers.ModelSerializer):
    workspace = serializers.CharField(source="workspace.name")
    experiment_id = serializers.SerializerMethodField()
    run_id = serializers.SerializerMethodField()
    run_status = serializers.SerializerMethodField()
    waiting_for = serializers.SerializerMethodField()
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
            "compute_target",
            "waiting_for",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
        ]

    def get_waiting_for(self, job: Job) -> str:
        """Why a queued job has not started (its target has no live worker), or ""."""
        live = self.context.get("live_targets")
        return waiting_reason(job, live if live is not None else live_targets())

    def get_experiment_id(self, job: Job) -> str:
        return str(job.experiment.number)

    def get_run_id(self, job: Job) -> str | None:
        return job.run.uuid if job.run else None

    def get_run_status(self, job: Job) -> str | None:
        return job.run.status if job.run else None


class JsonObjectField(serializers.CharField):
    """A JSON object sent as text (a form field), e.g. '{"alpha": 0.5}'."""

    def to_internal_value(self, data: Any) -> dict:
        text = super().to_internal_value(data)
        if not text:
            return {}
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            raise serializers.ValidationError('must be a JSON object, e.g. {"alpha": 0.5}.')
        return value


def _text(max_length: int) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, default="", max_length=max_length)


class SubmissionSerializer(serializers.Serializer):
    command = _text(MAX_COMMAND_LENGTH)
    entry_point = _text(250)
    parameters = JsonObjectField(
        required=False, allow_blank=True, default="", max_length=MAX_PARAMETERS_BYTES
    )
    experiment_id = _text(32)
    experiment_name = _text(500)
    run_name = _text(250)
    source_name = _text(500)
    user = _text(256)
    # Its maximum is the server's (STUDIO_JOB_MAX_TIME_LIMIT_SECONDS), which submit_job checks.
    time_limit_seconds = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    compute = _text(63)
    environment = JsonObjectField(
        required=False, allow_blank=True, default="", max_length=MAX_ENVIRONMENT_BYTES
    )


def _submission_fields(request) -> dict[str, Any]:
    """The form's fields, or the query string's when the zip is the raw body."""
    fields = request.query_params.dict()
    if hasattr(request.data, "items"):
        fields.update((key, value) for key, value in request.data.items() if key != "file")
    return fields


def _principal_name(request) -> str:
    principal = getattr(request._request, "principal", None)
    return principal.username if principal is not None and principal.username else ""


class Jobs(StudioEndpoint):
    parser_classes = parsers_for(SNAPSHOT)

    def get(self, request, workspace: Workspace) -> Response:
        jobs = list_jobs(workspace, limit=MAX_LISTED)
        context = {"live_targets": live_targets()}  # one look-up for the whole list
        return Response({"jobs": JobSerializer(jobs, many=True, context=context).data})

    def post(self, request, workspace: Workspace) -> Response:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > settings.JOB_MAX_SNAPSHOT_BYTES + 256 * 1024:  # room for the form's other fields
            raise SNAPSHOT.too_large()
        upload = request.data.get("file")
        if not isinstance(upload, Upload):
            raise InvalidParameterValue(
                "Send the snapshot (a .zip) as the body, or as the multipart field 'file'."
            )
        try:
            fields = self.valid(SubmissionSerializer, _submission_fields(request))
            with transaction.atomic():
                experiment = resolve_experiment(
                    workspace=workspace,
                    experiment_id=fields["experiment_id"].strip(),
                    experiment_name=fields["experiment_name"].strip(),
                )
                job = submit_job(
                    workspace=workspace,
                    experiment=experiment,
                    snapshot=upload.path,
                    source_name=fields["source_name"] or upload.name,
                    command=fields["command"],
                    entry_point=fields["entry_point"].strip(),
                    parameters=fields["parameters"],
                    time_limit_seconds=fields.get("time_limit_seconds"),
                    environment=fields["environment"] or None,
                    compute_target=fields["compute"].strip(),
                    run_name=fields["run_name"].strip(),
                    # Who is asking, as the access check saw them (a token's owner); in local mode,
                    # with no one signed in, what the client says.
                    user_id=_principal_name(request) or fields["user"].strip(),
                )
        except BaseException:
            upload.path.unlink(missing_ok=True)
            raise
        return created(JobSerializer(job).data, f"{request.path.rstrip('/')}/{job.pk}", status=202)


class JobDetail(StudioEndpoint):
    def get(self, request, workspace: Workspace, job_id: int) -> Response:
        return Response(JobSerializer(get_job(workspace, job_id)).data)


class JobCancel(StudioEndpoint):
    def post(self, request, workspace: Workspace, job_id: int) -> Response:
        job = get_job(workspace, job_id)
        cancel_job(job=job)
        return Response(JobSerializer(get_job(workspace, job.pk)).data)


class OffsetSerializer(serializers.Serializer):
    offset = serializers.IntegerField(required=False, default=0, min_value=0, max_value=MAX_OFFSET)


class JobOutput(StudioEndpoint):
    def get(self, request, workspace: Workspace, job_id: int) -> Response:
        job = get_job(workspace, job_id)
        offset = self.valid(OffsetSerializer, request.query_params.dict())["offset"]
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
