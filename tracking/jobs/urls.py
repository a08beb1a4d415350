"""Routes of the job endpoints (`/api/studio/v1/workspaces/<name>/jobs...`)."""

from django.urls import path

from .api import JobCancel, JobDetail, JobOutput, Jobs

_JOBS = "api/studio/v1/workspaces/<slug:workspace_name>/jobs"

urlpatterns = [
    path(_JOBS, Jobs.as_view()),
    path(f"{_JOBS}/<int:job_id>", JobDetail.as_view()),
    path(f"{_JOBS}/<int:job_id>/cancel", JobCancel.as_view()),
    path(f"{_JOBS}/<int:job_id>/output", JobOutput.as_view()),
]
