"""Jobs (remote runs): submitting one, cancelling it, and the sweeper that keeps them honest.

A job is submitted as a row and a run, in one transaction: the run exists at once (SCHEDULED), so
the person submitting has its id and its page, and the task is sent when the rows are committed.
The task gets only the job's id. Unlike an import, a job is not re-run when its worker dies: the
script may have logged half of its work to the run, so the sweeper fails it with the reason
instead (and re-sends only messages that were lost before any worker took the job).
"""

from __future__ import annotations

import logging
import math
import zipfile
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tracking.errors import InvalidParameterValue, InvalidState, MlflowError, ResourceDoesNotExist
from tracking.jobs.sandbox import sandbox_status
from tracking.jobs.specs import KINDS, SpecError, parse_spec
from tracking.models import Environment, Experiment, Job, Run, Workspace
from tracking.models.compute import queue_of
from tracking.models.runs import TERMINAL_STATUSES
from tracking.models.work import FINAL_STATUSES, QUEUED, RUNNING
from tracking.queries.compute import checked_target
from tracking.queries.experiments import get_experiment, get_experiment_by_name
from tracking.services.environments import declare_environment
from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run, update_run
from tracking.staging import discard, stage_upload

logger = logging.getLogger(__name__)

MAX_COMMAND_LENGTH = 10_000
MAX_PARAMETERS = 100
SNAPSHOT_ROOT = "jobs"


def snapshot_folder(job: Job) -> str:
    """Where the job's source files are kept, in its workspace's part of the artifact store.

    Beside the run's artifacts rather than among them: they are the job's input, not what the
    script logged, so `mlflow.artifacts.download_artifacts(run_id=...)` does not fetch them, and
    the studio shows them as the job's Snapshot.
    """
    return f"{SNAPSHOT_ROOT}/{job.pk}/snapshot"


def resolve_experiment(
    *, workspace: Workspace, experiment_id: str = "", experiment_name: str = ""
) -> Experiment:
    """The experiment named by id or by name; a name that does not exist yet is created (as
    `mlflow run --experiment-name` does)."""
    if experiment_id and experiment_name:
        raise InvalidParameterValue(
            "Name the experiment by 'experiment_id' or by 'experiment_name', not both."
        )
    if experiment_id:
        return get_experiment(workspace, experiment_id)
    if not experiment_name:
        raise InvalidParameterValue("Name the experiment to log to: 'experiment_id' or 'experiment_name'.")
    try:
        return get_experiment_by_name(workspace, experiment_name)
    except ResourceDoesNotExist:
        return create_experiment(workspace=workspace, name=experiment_name)


def checked_time_limit(value: object) -> int | None:
    """The time limit asked for, a whole number of seconds from 1 to STUDIO_JOB_MAX_TIME_LIMIT_SECONDS."""
    if value is None:
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterValue("'time_limit_seconds' must be a whole number of seconds.")
    if value <= 0:
        raise InvalidParameterValue("'time_limit_seconds' must be a positive number of seconds.")
    most = settings.JOB_MAX_TIME_LIMIT_SECONDS
    if value > most:
        raise InvalidParameterValue(
            f"'time_limit_seconds' may be at most {most} seconds on this server "
            f"(STUDIO_JOB_MAX_TIME_LIMIT_SECONDS); {value} was asked for."
        )
    return value


def checked_environment(workspace: Workspace, environment: dict | None) -> Environment | None:
    """The environment a submission names ({"name", "kind", "spec"}), recorded for its workspace."""
    if environment is None:
        return None
    if not isinstance(environment, dict) or set(environment) - {"name", "kind", "spec"}:
        raise InvalidParameterValue(
            "'environment' must be an object with 'name', 'kind' (pip, conda or python_env) and 'spec' "
            "(the text of the requirements.txt, conda.yaml or python_env.yaml)."
        )
    name, kind, text = (environment.get(key, "") for key in ("name", "kind", "spec"))
    if not all(isinstance(value, str) for value in (name, kind, text)) or kind not in KINDS:
        raise InvalidParameterValue(
            f"The environment's 'kind' must be one of {', '.join(KINDS)}, and 'name' and 'spec' text."
        )
    try:
        spec = parse_spec(kind, text)
    except SpecError as error:
        raise InvalidParameterValue(f"The environment cannot be used: {error}") from None
    return declare_environment(workspace=workspace, spec=spec, name=name)


def _check_request(command: str, entry_point: str, parameters: dict) -> None:
    if command and entry_point:
        raise InvalidParameterValue("Give either a 'command' or an MLflow project 'entry_point', not both.")
    if not command.strip() and not entry_point:
        raise InvalidParameterValue(
            "Give the command to run (e.g. 'python train.py --alpha 0.5'), or an 'entry_point' of the "
            "snapshot's MLproject file."
        )
    if len(command) > MAX_COMMAND_LENGTH or "\x00" in command:
        raise InvalidParameterValue(
            f"The command must be at most {MAX_COMMAND_LENGTH} characters, without NULs."
        )
    if len(entry_point) > 250:
        raise InvalidParameterValue("The entry point's name must be at most 250 characters.")
    if not isinstance(parameters, dict) or len(parameters) > MAX_PARAMETERS:
        raise InvalidParameterValue(
            f"'parameters' must be an object of at most {MAX_PARAMETERS} names and values."
        )
    for key, value in parameters.items():
        if not isinstance(value, str | int | float) or isinstance(value, bool) or not str(key):
            raise InvalidParameterValue(f"The parameter {key!r} must have a string or number value.")


def submit_job(
    *,
    workspace: Workspace,
    experiment: Experiment,
    snapshot: Path,
    source_name: str = "",
    command: str = "",
    entry_point: str = "",
    parameters: dict | None = None,
    time_limit_seconds: int | None = None,
    run_name: str = "",
    user_id: str = "",
    environment: dict | None = None,
    compute_target: str = "",
    enqueue: bool = True,
) -> Job:
    """A QUEUED job and its SCHEDULED run; the snapshot (a zip) becomes the job's.

    `environment` ({"name", "kind", "spec"}) is the Python environment it runs in; without one the
    worker uses the snapshot's specification, or the default. `compute_target` names the workers
    that may run it (the default target's, when empty). Refused when jobs cannot be
    sandboxed and sign-in is required (unless STUDIO_JOBS_UNSANDBOXED). The task is sent once this
    commits (with `enqueue`).
    """
    status = sandbox_status()
    if status.refused:
        raise InvalidState(status.message)
    parameters = {str(key): str(value) for key, value in (parameters or {}).items()}
    command = command.strip()
    _check_request(command, entry_point, parameters)
    time_limit_seconds = checked_time_limit(time_limit_seconds)
    compute_target = checked_target(compute_target)
    if not zipfile.is_zipfile(snapshot):
        raise InvalidParameterValue("The snapshot must be a .zip of the source folder.")
    if experiment.workspace_id != workspace.pk:
        raise ResourceDoesNotExist(f"No Experiment with id={experiment.number} exists")
    kind = Job.PROJECT if entry_point else Job.COMMAND
    tags = [
        ("mlflow.source.type", "PROJECT" if kind == Job.PROJECT else "JOB"),
        ("mlflow.source.name", (source_name or snapshot.name)[:500]),
    ]
    if user_id:
        tags.append(("mlflow.user", user_id))
    if kind == Job.PROJECT:
        tags.append(("mlflow.project.entryPoint", entry_point))
    snapshot_bytes = snapshot.stat().st_size
    # Handed to whichever worker takes the job, on this machine or another (tracking/staging.py).
    staged = stage_upload(snapshot, "jobs")
    try:
        with transaction.atomic():
            chosen = checked_environment(workspace, environment)
            run = create_run(experiment=experiment, user_id=user_id, run_name=run_name, tags=tags)
            update_run(run=run, status="SCHEDULED")
            job = Job.objects.create(
                workspace=workspace,
                experiment=experiment,
                run=run,
                kind=kind,
                command=command,
                entry_point=entry_point,
                parameters=parameters,
                source_name=(source_name or snapshot.name)[:500],
                snapshot_path=staged,
                snapshot_bytes=snapshot_bytes,
                time_limit_seconds=time_limit_seconds,
                submitted_by=user_id[:256],
                environment=chosen,
                compute_target=compute_target,
            )
            if enqueue:
                # robust: a broker that is down must not undo a submitted job; the sweeper sends it later.
                transaction.on_commit(lambda: enqueue_job(job.pk), robust=True)
    except BaseException:
        discard(staged)  # the job was not created: nothing may keep its snapshot
        raise
    return job


def enqueue_job(job_id: int) -> None:
    """Sends the job to the queue of its compute target, whose workers alone take it."""
    from tracking.tasks import run_job

    target = Job.objects.filter(pk=job_id).values_list("compute_target", flat=True).first()
    if target is None:
        return
    Job.mark_enqueued(job_id)
    run_job.apply_async((job_id,), queue=queue_of(target))


def end_run(run: Run | None, status: str) -> None:
    """Sets the job's run to its final status; a run deleted meanwhile is left as it is."""
    if run is None:
        return
    try:
        update_run(run=run, status=status, end_time=timezone.now())
    except MlflowError as error:
        logger.info("run %s of a job not ended as %s: %s", run.uuid, status, error.message)


def cancel_job(*, job: Job) -> bool:
    """Stops the job: a queued one never starts; a running one's worker kills its processes within
    a second or so. Its run is KILLED at once (the worker says so again once the processes are gone).
    False if the job had already ended."""
    if not Job.cancel(job.pk):
        return False
    job.refresh_from_db()
    if job.run is not None and job.run.status not in TERMINAL_STATUSES:
        end_run(job.run, "KILLED")
    return True


def fail_abandoned_job(job_id: int, error: str) -> bool:
    if not Job.abandon(job_id, error):
        return False
    job = Job.objects.select_related("run").get(pk=job_id)
    end_run(job.run, "FAILED")
    return True


def sweep_jobs() -> list[int]:
    """Re-sends lost messages of queued jobs, fails running ones whose worker went silent, and
    deletes the uploaded snapshots of jobs that ended before a worker stored them; returns the
    ids of the jobs re-sent."""
    cutoff = timezone.now() - Job.stale_after()
    resent = []
    for pk, status in Job.needing_a_message().values_list("pk", "status"):
        if status == RUNNING:
            if fail_abandoned_job(
                pk,
                "The worker running this job stopped answering (restarted, killed, or out of memory). "
                "The job was not started again, since its script may have logged part of its work; submit it again.",
            ):
                logger.warning("job %s failed: its worker went silent", pk)
        elif status == QUEUED and Job.mark_enqueued(pk, unless_after=cutoff):
            enqueue_job(pk)
            resent.append(pk)
    for pk, path in (
        Job.objects.filter(status__in=FINAL_STATUSES)
        .exclude(snapshot_path="")
        .values_list("pk", "snapshot_path")
    ):
        discard(path)
        Job.objects.filter(pk=pk).update(snapshot_path="")
    return resent
