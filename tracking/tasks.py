"""Celery tasks of the tracking app: importing MLflow file stores, running jobs, and the sweepers that keep them moving."""

from __future__ import annotations

import os

from celery import shared_task

from tracking.alerts import run_pass
from tracking.deletion.purge import carry_out
from tracking.ingest.importer import run_import
from tracking.jobs import runner as job_runner
from tracking.models import Run
from tracking.queries.metric_charts import warm_charts
from tracking.services import jobs as job_services
from tracking.services.deletions import resend_stalled_deletions
from tracking.services.imports import resend_stalled_imports
from tracking.services.workspaces import measure_storage


@shared_task(name="tracking.tasks.import_mlruns", acks_late=True, ignore_result=True)
def import_mlruns(import_id: int) -> None:
    """Claims the import and carries it through; a no-op if another worker has it or it has ended.

    acks_late: the message stays with the broker until this returns, so a worker killed mid-way
    does not lose it; running it again resumes from the row's checkpoint.
    """
    run_import(import_id, worker=f"{import_mlruns.request.hostname or 'worker'}:{os.getpid()}")


@shared_task(name="tracking.tasks.sweep_imports", ignore_result=True)
def sweep_imports() -> None:
    """Re-sends imports whose worker went silent or whose message got lost (beat schedule)."""
    resend_stalled_imports()


@shared_task(name="tracking.tasks.run_job", acks_late=False, ignore_result=True)
def run_job(job_id: int) -> None:
    """Claims the job and runs its command to the end; a no-op if another worker has it or it ended.

    Not acks_late: a job is not idempotent (its script logs as it goes), and a job can run for
    hours, longer than a broker keeps an unacknowledged message. A message lost before any worker
    claimed the job is re-sent by the sweeper; a job whose worker died is failed, not re-run.
    """
    job_runner.run_job(job_id, worker=job_runner.worker_name(run_job.request.hostname or ""))


@shared_task(name="tracking.tasks.sweep_jobs", ignore_result=True)
def sweep_jobs() -> None:
    """Re-sends lost job messages and fails jobs whose worker went silent (beat schedule)."""
    job_services.sweep_jobs()


@shared_task(name="tracking.tasks.delete_for_good", acks_late=True, ignore_result=True)
def delete_for_good(deletion_id: int) -> None:
    """Claims the deletion and removes its target's rows and files; a no-op if another worker has
    it or it has ended. acks_late: each step removes only what is left, so running it again after
    the worker was killed carries on where it stopped."""
    carry_out(deletion_id, worker=f"{delete_for_good.request.hostname or 'worker'}:{os.getpid()}")


@shared_task(name="tracking.tasks.sweep_deletions", ignore_result=True)
def sweep_deletions() -> None:
    """Re-sends deletions whose worker went silent or whose message got lost (beat schedule)."""
    resend_stalled_deletions()


@shared_task(name="tracking.tasks.measure_storage", ignore_result=True)
def measure_workspace_storage() -> None:
    """Keeps each workspace's bytes of artifacts current for the home page (beat schedule)."""
    measure_storage()


@shared_task(name="tracking.tasks.warm_metric_charts", ignore_result=True)
def warm_metric_charts(run_pk: int) -> None:
    """Draws the whole-history charts of an ended run's long metrics into the cache, so that the
    first visit to its Metrics tab does not read a million points while the user waits."""
    run = Run.objects.filter(pk=run_pk).first()
    if run is not None:
        warm_charts(run)


@shared_task(name="tracking.tasks.evaluate_alerts", ignore_result=True)
def evaluate_alerts() -> None:
    """Evaluates every enabled alert rule and delivers what fired to webhooks (beat schedule).
    Safe to run twice at once: each alert is one row, each delivery claimed by one worker."""
    run_pass()
